"""examples/pytorch/mtrec_torch.py against the module's own predictions (float32, no CSV in between), and its
pieces: the documented hash, saving tuned weights, mini-batches, gradients, malformed files. Skipped without
torch (Debian: python3-torch); examples/pytorch/run.sh holds every architecture against `mtrec predict`."""
import json
import os
import struct
import sys

import numpy
import pytest

torch = pytest.importorskip("torch", reason="PyTorch round trip: no torch in this python (apt-get install python3-torch)")

import mtrec  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "pytorch"))
import mtrec_torch  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An mmoe with a chain, batch norm and a numeric projection, trained on 4,000 simulated rows, exported."""
    out = tmp_path_factory.mktemp("torch")
    sim = mtrec.simulate("ecommerce", rows=4000, seed=5, out=out / "sim")
    model = mtrec.train(sim.config, train=sim.train, valid=sim.valid, epochs=1,
                        overrides={"model.arch": "mmoe", "model.experts": 3, "model.expert": [16],
                                   "model.tower": [8], "model.batch_norm": True, "model.numeric_projection": 4})
    path = out / "model.safetensors"
    model.export_safetensors(str(path))
    return sim, model, path


def columns_of(frame):
    return {name: frame[name].tolist() for name in frame.columns}


def test_the_documented_hash_examples():
    assert mtrec_torch.fnv_mix_hash("u123", 1 << 20) == 903518
    assert mtrec_torch.fnv_mix_hash("i7", 97) == 1


def test_torch_predicts_what_mtrec_predicts_from_the_same_dataframe(exported):
    sim, model, path = exported
    expected = model.predict(sim.test)
    torch_model = mtrec_torch.load(str(path))
    got = torch_model.predict(torch_model.encode(columns_of(sim.test)))
    assert list(got) == list(expected)
    for name in expected:
        assert numpy.abs(got[name].numpy() - expected[name]).max() < 1e-5, name
        assert expected[name].std() > 0, name  # a model that predicts something per row


def test_mini_batches_score_as_the_whole_file(exported):
    sim, _, path = exported
    torch_model = mtrec_torch.load(str(path))
    inputs = torch_model.encode(columns_of(sim.test))
    whole = torch_model.predict(inputs)
    part = torch_model.predict(inputs.slice(37, 91))
    for name in whole:
        # The same rows in a smaller batch: equal up to the order of float32 sums in the products.
        assert torch.allclose(part[name], whole[name][37:91], rtol=0, atol=1e-6), name


def test_taking_rows_equals_encoding_them_in_that_order(exported):
    sim, _, path = exported
    torch_model = mtrec_torch.load(str(path))
    columns = columns_of(sim.test)
    inputs = torch_model.encode(columns)
    order = torch.randperm(inputs.rows, generator=torch.Generator().manual_seed(3))[:300]
    taken = inputs.take(order)
    encoded = torch_model.encode({c: [values[i] for i in order.tolist()] for c, values in columns.items()})
    assert taken.rows == encoded.rows == 300
    assert len(taken.multi) > 0  # recent_categories: the multi-valued slot's ids and offsets are regathered
    for a, b in zip(taken.single, encoded.single):
        assert torch.equal(a, b)
    for (ids_a, offsets_a), (ids_b, offsets_b) in zip(taken.multi, encoded.multi):
        assert torch.equal(ids_a, ids_b) and torch.equal(offsets_a, offsets_b)
    assert torch.equal(taken.numeric, encoded.numeric)


def test_gradients_reach_embeddings_and_dense_weights_and_tuned_weights_save(exported, tmp_path):
    sim, _, path = exported
    torch_model = mtrec_torch.load(str(path))
    inputs = torch_model.encode(columns_of(sim.train.head(256)))
    loss = torch_model(inputs)[:, 0].sum()
    loss.backward()
    grads = {name.replace("/", "."): p.grad for name, p in torch_model.params.items()}
    assert grads["embeddings.user_id"].abs().sum() > 0
    assert grads["experts.0.weight"].abs().sum() > 0
    assert grads["gates.weight"].abs().sum() > 0
    assert grads["numeric_projection.weight"].abs().sum() > 0
    with torch.no_grad():
        torch_model.params["towers/1/bias"] += 0.5  # the output bias of every task's tower
    tuned = tmp_path / "tuned.safetensors"
    torch_model.save(str(tuned))
    reloaded = mtrec_torch.load(str(tuned))
    assert reloaded.metadata == torch_model.metadata
    for name, tensor in torch_model.mtrec_state_dict().items():
        assert torch.equal(reloaded.mtrec_state_dict()[name], tensor), name
    with torch.no_grad():
        assert torch.equal(reloaded(inputs), torch_model(inputs))


def test_malformed_files_are_refused_with_the_file_and_the_tensor(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(ValueError, match="header length 1000 beyond the file"):
        mtrec_torch.read_safetensors(str(path))
    header = json.dumps({"w": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0\0")
    with pytest.raises(ValueError, match="tensor w has dtype F16"):
        mtrec_torch.read_safetensors(str(path))
    header = json.dumps({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    with pytest.raises(ValueError, match="tensor w: offsets 0..8 do not hold shape"):
        mtrec_torch.read_safetensors(str(path))


def test_a_value_that_is_not_a_number_names_its_column_and_row(exported):
    sim, _, path = exported
    torch_model = mtrec_torch.load(str(path))
    columns = columns_of(sim.test.head(5))
    columns["price"][3] = "cheap"
    with pytest.raises(ValueError,
                       match=r"column 'price' \(feature 'price'\), row 3 \(counting from 0\): 'cheap' is not a number"):
        torch_model.encode(columns)


def test_values_in_memory_read_as_the_text_a_csv_file_holds():
    # As mtrec reads in-memory columns (NumberText): whole numbers without a decimal point, NaN as missing.
    assert mtrec_torch.field_text(123.0) == "123"
    assert mtrec_torch.field_text(float("nan")) == ""
    assert mtrec_torch.field_text(None) == ""
    assert mtrec_torch.field_text(0.1) == "0.1"
    assert mtrec_torch.field_text(numpy.int64(7)) == "7"
    assert mtrec_torch.field_text(numpy.float32(2.5)) == "2.5"
    assert mtrec_torch.field_text("u7") == "u7"


def test_rows_without_a_treatment_column_are_scored_as_untreated():
    spec = {"version": 1, "na_values": ["", "NA"], "trim": True, "single_slots": 0, "multi_slots": 0,
            "numeric_columns": ["x"],
            "features": [{"name": "x", "column": "x", "kind": "numeric", "input": {"block": "numeric", "index": 0},
                          "table": None, "fill": 0.0, "clip": None, "log1p": False, "standardize": True,
                          "mean": 1.0, "std": 2.0, "missing_flag": False, "bucketised": False, "bounds": []}]}
    encoder = mtrec_torch.FeatureEncoder(spec, ["treatment"])
    without = encoder.encode({"x": ["3", "NA"]})
    assert numpy.isnan(without.treatments["treatment"]).all()
    assert without.numeric[:, 0].tolist() == [1.0, -0.5]  # (3 - 1) / 2 and the fill 0 standardised
    given = encoder.encode({"x": [3.0, 5], "treatment": [1, 0]})
    assert given.treatments["treatment"].tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="none of the columns the model reads"):
        encoder.encode({"y": ["1"]})
