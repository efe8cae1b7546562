"""The Python API against the command line: the same data and config give the same model and predictions, from
files and from DataFrames or dicts in memory; errors carry mtrec's messages."""
import logging
import os
import signal
import subprocess
import threading
import time

import numpy
import pandas
import pytest

import mtrec

MTREC = os.environ.get("MTREC_BINARY", "mtrec")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    return mtrec.simulate("ecommerce", rows=4000, seed=3, out=tmp_path_factory.mktemp("sim"))


def read_predictions(path):
    return pandas.read_csv(path)


def test_simulate_returns_the_three_parts_and_a_config(sim):
    assert isinstance(sim.train, pandas.DataFrame)
    assert len(sim.train) + len(sim.valid) + len(sim.test) == 4000
    assert sim.train["click"].dtype.kind in "if"
    assert sim.train["city"].dtype == object
    assert os.path.exists(sim.config)


def test_a_model_trained_from_dataframes_predicts_what_the_command_line_model_does(sim, tmp_path):
    # The command line on the files.
    cli_model = tmp_path / "cli.mtrec"
    subprocess.run([MTREC, "-q", "train", "--config", sim.config, "--out", str(cli_model), "train.epochs=2"],
                   check=True, capture_output=True)
    cli_out = tmp_path / "cli.csv"
    subprocess.run([MTREC, "-q", "predict", "--model", str(cli_model), "--data", os.path.join(sim.folder, "test.csv"),
                    "--out", str(cli_out)], check=True, capture_output=True)
    expected = read_predictions(cli_out)
    # The API on the same rows in memory.
    model = mtrec.train(sim.config, train=sim.train, valid=sim.valid, epochs=2)
    assert model.tasks == ["click", "cart", "purchase", "gmv"]
    scores = model.predict(sim.test)
    assert list(scores) == list(expected.columns)
    for name, values in scores.items():
        assert values.dtype == numpy.float32
        assert len(values) == len(sim.test)
        # predict writes 7 significant digits
        numpy.testing.assert_allclose(values, expected[name].to_numpy(), rtol=2e-6, atol=1e-7, err_msg=name)
    # A dict of arrays and the file's path give the same scores.
    as_dict = {name: sim.test[name].to_numpy() for name in sim.test.columns}
    for name, values in model.predict(as_dict).items():
        numpy.testing.assert_array_equal(values, scores[name])
    from_file = model.predict(os.path.join(sim.folder, "test.csv"))
    for name, values in from_file.items():
        numpy.testing.assert_array_equal(values, scores[name])


def test_rows_held_out_of_training_data_in_memory_as_of_the_file(sim, tmp_path):
    # data.valid_fraction holds validation rows out of the training data, whether it is a file or a DataFrame.
    settings = ["train.epochs=2", "data.valid_fraction=0.2", "data.valid="]
    model_path = tmp_path / "cli.mtrec"
    subprocess.run([MTREC, "-q", "train", "--config", sim.config, "--out", str(model_path), *settings],
                   check=True, capture_output=True)
    expected = mtrec.load(model_path).predict(sim.test)
    model = mtrec.train(sim.config, train=sim.train,
                        overrides={"train.epochs": 2, "data.valid_fraction": 0.2, "data.valid": ""})
    for name, values in model.predict(sim.test).items():
        numpy.testing.assert_array_equal(values, expected[name], err_msg=name)


def test_save_load_and_evaluate(sim, tmp_path):
    model = mtrec.train(sim.config, train=sim.train, valid=sim.valid, epochs=1)
    path = tmp_path / "model.mtrec"
    model.save(path)
    loaded = mtrec.load(path)
    first, second = model.predict(sim.test), loaded.predict(sim.test)
    for name in first:
        numpy.testing.assert_array_equal(first[name], second[name])
    metrics = loaded.evaluate(sim.test)
    assert metrics["rows"] == len(sim.test)
    assert 0.5 < metrics["tasks"]["click"]["auc"] <= 1.0
    assert metrics["tasks"]["click"]["rows"] == len(sim.test)
    loaded.export_safetensors(tmp_path / "model.safetensors")
    assert (tmp_path / "model.safetensors").stat().st_size > 1000


def test_a_config_as_a_dict(sim):
    config = {
        "data": {},
        "tasks": [{"name": "click", "column": "click"}],
        "features": [{"name": "city", "kind": "categorical"}, {"name": "price", "kind": "numeric"}],
        "model": {"arch": "shared_bottom", "bottom": [16]},
        "train": {"epochs": 1, "batch_size": 256},
    }
    model = mtrec.train(config, train=sim.train, valid=sim.valid)
    assert model.tasks == ["click"]
    assert set(model.predict(sim.test)) == {"click"}


def test_errors_raise_mtrec_error_with_the_message(sim):
    no_label = sim.train.drop(columns=["click"])
    with pytest.raises(mtrec.Error, match=r"has no column 'click' \(needed as label of task 'click'\)"):
        mtrec.train(sim.config, train=no_label, valid=sim.valid, epochs=1)
    bad = sim.train.copy()
    bad.loc[5, "click"] = 2.0
    with pytest.raises(mtrec.Error, match=r"train:6: column 'click' .*: a binary label must be 0 or 1, found 2"):
        mtrec.train(sim.config, train=bad, valid=sim.valid, epochs=1)
    with pytest.raises(mtrec.Error, match="unknown key 'epoch'"):
        mtrec.train(sim.config, train=sim.train, overrides={"train.epoch": 1})
    with pytest.raises(TypeError):
        mtrec.train(sim.config, train=42)


def test_the_configs_precision_is_applied(sim):
    # bf16 matmuls train another model than f32 where the CPU has them, and are refused with a message elsewhere.
    f32 = mtrec.train(sim.config, train=sim.train, valid=sim.valid, epochs=1).predict(sim.test)
    try:
        bf16 = mtrec.train(sim.config, train=sim.train, valid=sim.valid, epochs=1, precision="bf16").predict(sim.test)
    except mtrec.Error as error:
        assert "bf16" in str(error)
        return
    assert not numpy.array_equal(f32["click"], bf16["click"])
    numpy.testing.assert_allclose(f32["click"], bf16["click"], atol=0.05)


def test_log_lines_are_records_of_the_mtrec_logger(sim, caplog):
    with caplog.at_level(logging.INFO, logger="mtrec"):
        mtrec.train(sim.config, train=sim.train, valid=sim.valid, epochs=1)
    messages = [record.getMessage() for record in caplog.records if record.name == "mtrec"]
    assert any(message.startswith("model: shared_bottom over") for message in messages), messages
    assert any(message.startswith("epoch 1 valid:") for message in messages), messages


def test_ctrl_c_stops_training_between_two_steps(sim):
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            mtrec.train(sim.config, train=sim.train, valid=sim.valid, epochs=100000, early_stop_metric="none")
    finally:
        timer.cancel()
    assert time.monotonic() - start < 30
