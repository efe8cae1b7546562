"""mtrec from Python: train, predict, evaluate, save and load multi-task models without leaving the notebook.

    import mtrec
    sim = mtrec.simulate("ecommerce", rows=20000, seed=1)          # DataFrames (or dicts of arrays) and a config
    model = mtrec.train(sim.config, train=sim.train, valid=sim.valid, epochs=2)
    scores = model.predict(sim.test)                               # {"click": numpy array, ...}
    metrics = model.evaluate(sim.test)                             # what `mtrec eval --json` writes
    model.save("model.mtrec"); model = mtrec.load("model.mtrec")

Data is a CSV path, a pandas DataFrame or a dict of columns (numpy arrays or lists; numbers or strings), read as
`mtrec train` reads the same values from a file. A config is a TOML file's path or a dict of the same sections.
Errors raise mtrec.Error with mtrec's message. Long calls release the GIL; Ctrl-C stops a training run between two
steps (KeyboardInterrupt). mtrec's progress and log lines are records of the "mtrec" logger (INFO; warnings at
WARNING), so logging.getLogger("mtrec").setLevel(logging.INFO) shows them.
"""
import json
import logging
import os
import tempfile

import numpy

from . import _mtrec

Error = _mtrec.Error
Model = _mtrec.Model

__all__ = ["Error", "Model", "Simulated", "load", "simulate", "train"]

_logger = logging.getLogger("mtrec")


def _quiet():
    # mtrec writes the lines the "mtrec" logger would keep: debug lines at DEBUG, progress at INFO, warnings always.
    _mtrec.set_log_level(2 if _logger.isEnabledFor(logging.DEBUG) else 1 if _logger.isEnabledFor(logging.INFO) else 0)


def _columns(data):
    """A data argument as the native module takes it: a path, or a dict of 1-d columns."""
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    if hasattr(data, "columns") and hasattr(data, "__getitem__") and not isinstance(data, dict):  # a DataFrame
        data = {str(name): data[name].to_numpy() for name in data.columns}
    if not isinstance(data, dict):
        raise TypeError(f"data: a CSV path, a pandas DataFrame or a dict of columns, not {type(data).__name__}")
    columns = {}
    for name, values in data.items():
        array = numpy.asarray(values)
        if array.ndim != 1:
            raise Error(f"data: column '{name}' has {array.ndim} dimensions; a column has one")
        if array.dtype.kind in "biuf":
            columns[str(name)] = numpy.ascontiguousarray(array, dtype=numpy.float64)
        else:
            columns[str(name)] = array.astype(object)
    return columns


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"config: {value!r} is not a TOML value")


def _toml(config):
    """A config dict ({"data": {...}, "tasks": [{...}], ...}) as TOML text."""
    lines = []
    for section, body in config.items():
        if isinstance(body, dict):
            lines.append(f"[{section}]")
            lines += [f"{key} = {_toml_value(value)}" for key, value in body.items()]
        elif isinstance(body, list) and all(isinstance(item, dict) for item in body):
            for item in body:
                lines.append(f"[[{section}]]")
                lines += [f"{key} = {_toml_value(value)}" for key, value in item.items()]
        else:
            raise TypeError(f"config: section '{section}' must be a dict or a list of dicts")
        lines.append("")
    return "\n".join(lines)


def _overrides(overrides):
    """{"train.epochs": 2} or epochs=2 (a key without a section is taken as train.KEY) as "section.key=value"."""
    out = []
    for key, value in overrides.items():
        key = key if "." in key else f"train.{key}"
        if isinstance(value, str):
            out.append(f"{key}={value}")
        else:
            out.append(f"{key}={_toml_value(value)}")
    return out


def train(config, train=None, valid=None, overrides=None, **settings):
    """Trains a model as `mtrec train` does and returns it (not saved: Model.save).

    config: a TOML file's path or a dict of its sections. train, valid: data (see the module's help); without them
    the files the config names are read. overrides: {"section.key": value}; keyword settings are train.KEY (epochs=2).
    """
    _quiet()
    every = dict(overrides or {})
    every.update(settings)
    if isinstance(config, dict):
        source, is_text = _toml(config), True
    else:
        source, is_text = os.fspath(config), False
    return _mtrec.train(source, is_text, _overrides(every),
                        None if train is None else _columns(train), None if valid is None else _columns(valid))


def load(path):
    """A model saved by mtrec (`mtrec train --out`, Model.save)."""
    _quiet()
    return _mtrec.load(os.fspath(path))


def _predict(self, data):
    """Scores data: {output column: float32 numpy array}, the columns of `mtrec predict` in its order."""
    _quiet()
    return self._predict(_columns(data))


def _evaluate(self, data):
    """Every metric of every task on labelled data, as `mtrec eval --json` writes them (a dict)."""
    _quiet()
    return json.loads(self.evaluate_json(_columns(data)))


def _save(self, path):
    """Writes the model file (atomically), as `mtrec train --out` does."""
    self._save(os.fspath(path))


def _export_safetensors(self, path):
    """The model as safetensors (`mtrec export --format safetensors`), for PyTorch."""
    self._export_safetensors(os.fspath(path))


Model._predict = Model.predict
Model.predict = _predict
Model.evaluate = _evaluate
Model._save = Model.save
Model.save = _save
Model._export_safetensors = Model.export_safetensors
Model.export_safetensors = _export_safetensors


class Simulated:
    """Simulated data (`mtrec simulate`): train, valid and test as pandas DataFrames (dicts of numpy arrays without
    pandas), the generated config as a dict-free path (config, usable by train()), and the folder they were
    written to."""

    def __init__(self, folder):
        self.folder = folder
        self.config = os.path.join(folder, "config.toml")
        for part in ("train", "valid", "test"):
            setattr(self, part, _read_csv(os.path.join(folder, f"{part}.csv")))


def _read_csv(path):
    try:
        import pandas
    except ImportError:
        pandas = None
    if pandas is not None:
        return pandas.read_csv(path, keep_default_na=False, na_values=[""], dtype=str).apply(_numeric_or_text)
    table = numpy.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")
    return {name: table[name] for name in table.dtype.names}


def _numeric_or_text(column):
    import pandas

    converted = pandas.to_numeric(column, errors="coerce")
    return converted if converted.notna().sum() == column.notna().sum() else column


def simulate(preset="ecommerce", rows=20000, seed=1, out=None):
    """Simulated data with known ground truth (`mtrec simulate`), written to `out` (a new temporary folder when
    None) and read back: Simulated.train, .valid, .test and .config."""
    _quiet()
    folder = os.fspath(out) if out is not None else tempfile.mkdtemp(prefix="mtrec-sim-")
    _mtrec.simulate(preset, int(rows), int(seed), folder)
    return Simulated(folder)
