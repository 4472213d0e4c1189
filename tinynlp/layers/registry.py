"""Layer class registry: rebuild an architecture from its JSON.

A saved model stores each layer as ``{"class_name": ..., "config": ...}``
(:func:`serialize`); :func:`deserialize` looks the class up by name and calls
its ``from_config``.  Every built-in layer is registered with the
:func:`register_layer` decorator; other packages (models, quantized layers)
register theirs the same way::

    @register_layer
    class QuantizedDense(Layer):
        ...
"""

from __future__ import annotations

_REGISTRY: dict = {}
_ALIASES: dict = {}


def register_layer(cls=None, *, name=None, aliases=()):
    """Register ``cls`` under its class name (or ``name``); usable as a decorator.

    ``@register_layer`` or ``@register_layer(aliases=("MaxPool1D",))``.
    Registering a different class under a name already taken is an error.
    """
    def decorate(klass):
        key = name or klass.__name__
        old = _REGISTRY.get(key)
        if old is not None and old is not klass and (
                old.__module__, old.__qualname__) != (klass.__module__, klass.__qualname__):
            raise ValueError(
                f"register_layer: the name {key!r} is already taken by "
                f"{old.__module__}.{old.__qualname__}"
            )
        _REGISTRY[key] = klass
        for alias in aliases:
            _ALIASES[alias] = key
        return klass

    if cls is None:
        return decorate
    return decorate(cls)


def get_layer_class(name: str):
    """The layer class registered under ``name`` (Keras aliases such as ``MaxPool1D`` work)."""
    key = _ALIASES.get(name, name)
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ValueError(
            f"get_layer_class: unknown layer class {name!r}; registered: {sorted(_REGISTRY)}"
        ) from None


def registered_layers() -> list:
    """Names of every registered layer class."""
    return sorted(_REGISTRY)


def serialize(layer) -> dict:
    """``{"class_name": ..., "config": layer.get_config()}`` (JSON-serialisable)."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(spec: dict):
    """Rebuild a layer from :func:`serialize`'s output (weights are not included)."""
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(
            "deserialize: expected a dict {'class_name': ..., 'config': {...}}, "
            f"got {spec!r:.200}"
        )
    cls = get_layer_class(spec["class_name"])
    return cls.from_config(dict(spec.get("config", {})))
