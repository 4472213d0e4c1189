"""The structure of a checkpoint's ``config.json``, checked field by field.

A ``.tnz`` file's JSON is read before anything else, so every field the
loader uses is checked here first: its type, and for sizes and dtypes their
values.  A wrong field raises :class:`CheckpointError` naming the file and the
field — never an ``AttributeError`` or ``TypeError`` from deep inside loading.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CheckpointError", "check_config", "check_dtype", "FORMAT_MODEL", "FORMAT_WEIGHTS",
           "FORMAT_VERSION"]

FORMAT_MODEL = "tinynlp.model"
FORMAT_WEIGHTS = "tinynlp.weights"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file cannot be read: corrupt, truncated, incomplete or mismatched."""


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_dtype(value, where, error=CheckpointError):
    """``value`` (a dtype string) as a plain numeric NumPy dtype, else ``error``."""
    if not isinstance(value, str):
        raise error(f"{where}: dtype must be a string such as '<f4', got {value!r:.80}")
    try:
        dt = np.dtype(value)
    except (TypeError, ValueError, SyntaxError):
        raise error(f"{where}: {value!r:.80} is not a NumPy dtype") from None
    if dt.kind not in "fiub" or dt.fields is not None or dt.subdtype is not None:
        raise error(f"{where}: dtype {value!r:.80} is not a plain numeric dtype")
    return dt


def _check_shape(value, where, allow_none=False):
    if not isinstance(value, list) or not all(
            _is_int(d) and d >= 0 or (allow_none and d is None) for d in value):
        raise CheckpointError(f"{where}: shape must be a list of non-negative integers"
                              f"{' (or null)' if allow_none else ''}, got {value!r:.120}")


def _check_manifest(weights, path):
    if not isinstance(weights, list):
        raise CheckpointError(f"{path}: config.json has no weight manifest (a 'weights' list)")
    for i, entry in enumerate(weights):
        where = f"{path}: config.json weights[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise CheckpointError(f"{where} must be an object with a string 'name', got "
                                  f"{entry!r:.120}")
        _check_shape(entry.get("shape"), where)
        check_dtype(entry.get("dtype"), where)
        if not isinstance(entry.get("trainable", True), bool):
            raise CheckpointError(f"{where}: 'trainable' must be true or false")


def _check_model_fields(config, path):
    arch = config.get("architecture")
    if not isinstance(arch, dict) or not isinstance(arch.get("class_name"), str) \
            or not isinstance(arch.get("config", {}), dict):
        raise CheckpointError(f"{path}: config.json has no valid architecture (an object with "
                              "a string 'class_name' and an object 'config')")
    spec = config.get("build_input_spec")
    if spec is not None:
        if not isinstance(spec, list) or not all(
                isinstance(s, list) and len(s) == 2 for s in spec):
            raise CheckpointError(f"{path}: config.json build_input_spec must be a list of "
                                  f"[shape, dtype] pairs, got {spec!r:.120}")
        for k, (shape, dtype) in enumerate(spec):
            _check_shape(shape, f"{path}: config.json build_input_spec[{k}]", allow_none=True)
            check_dtype(dtype, f"{path}: config.json build_input_spec[{k}]")
    compile_cfg = config.get("compile")
    if compile_cfg is not None and not isinstance(compile_cfg, dict):
        raise CheckpointError(f"{path}: config.json 'compile' must be an object or null")
    if compile_cfg is not None:
        if not isinstance(compile_cfg.get("loss") or {}, (dict, str, list)):
            raise CheckpointError(f"{path}: config.json compile.loss is malformed")
        if not isinstance(compile_cfg.get("metrics", []), (list, dict)):
            raise CheckpointError(f"{path}: config.json compile.metrics must be a list")
    state = config.get("optimizer_state")
    if state is not None:
        if not isinstance(state, dict) or not _is_int(state.get("iterations", 0)) \
                or state.get("iterations", 0) < 0:
            raise CheckpointError(f"{path}: config.json optimizer_state must be an object with "
                                  "a non-negative integer 'iterations'")
        slots = state.get("slots", [])
        if not isinstance(slots, list) or not all(
                isinstance(s, list) and all(isinstance(k, str) for k in s) for s in slots):
            raise CheckpointError(f"{path}: config.json optimizer_state.slots must be a list of "
                                  "lists of slot names")
    if config.get("rng_state") is not None and not isinstance(config["rng_state"], dict):
        raise CheckpointError(f"{path}: config.json rng_state must be an object or null")
    epoch = config.get("epoch")
    if epoch is not None and not _is_int(epoch):
        raise CheckpointError(f"{path}: config.json epoch must be an integer or null, got "
                              f"{epoch!r:.40}")


def check_config(config, path):
    """Raise :class:`CheckpointError` unless ``config`` is a well-formed checkpoint config."""
    if not isinstance(config, dict) or config.get("format") not in (FORMAT_MODEL,
                                                                    FORMAT_WEIGHTS):
        raise CheckpointError(f"{path}: config.json does not describe a tinynlp model or "
                              "weights file")
    version = config.get("format_version")
    if not _is_int(version) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {version!r:.40} is not supported "
                              f"(this tinynlp reads up to {FORMAT_VERSION})")
    _check_manifest(config.get("weights"), path)
    if config["format"] == FORMAT_MODEL:
        _check_model_fields(config, path)
