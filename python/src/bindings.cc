// The Python module's native part (`mtrec._mtrec`, wrapped by python/mtrec/__init__.py): training from a config and
// data in memory or in files, predicting, evaluating, saving, loading and exporting a model, mtrec's errors as
// mtrec.Error. Data crosses as a dict of columns (numpy arrays of numbers, or lists of strings) built by the Python
// side from a pandas DataFrame or a dict of arrays; long calls run without the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "cli/data_sets.h"
#include "cli/training.h"
#include "common/config.h"
#include "common/error.h"
#include "common/files.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/threads.h"
#include "nn/precision.h"
#include "data/column_table.h"
#include "data/simulator.h"
#include "data/split.h"
#include "features/time_series.h"
#include "eval/evaluation.h"
#include "eval/evaluation_run.h"
#include "features/pipeline.h"
#include "io/model_io.h"
#include "io/safetensors.h"
#include "models/predict.h"
#include "models/task_outputs.h"

namespace py = pybind11;

namespace mtrec {
namespace {

// A data argument: a file's path, or columns (name -> float64 array or list of str). Read without the GIL once the
// Python objects are copied, so that other threads (and the log sink) can run meanwhile.
ColumnTable TableOf(const py::object& data, const DataConfig& config, const std::vector<ColumnRequest>& requests,
                    const char* what) {
  if (py::isinstance<py::str>(data)) {
    const std::string path = data.cast<std::string>();
    py::gil_scoped_release release;
    return LoadTable(path, config, requests);
  }
  MTREC_CHECK(py::isinstance<py::dict>(data), "{}: a CSV path, a pandas DataFrame or a dict of columns, not {}", what,
              std::string(py::str(data.get_type())));
  std::vector<InputColumn> columns;
  for (const auto& [key, value] : data.cast<py::dict>()) {
    InputColumn column;
    column.name = py::str(key);
    if (py::isinstance<py::array>(value) && py::array(value.cast<py::array>()).dtype().kind() != 'O' &&
        py::array(value.cast<py::array>()).dtype().kind() != 'U') {
      const auto numbers = value.cast<py::array_t<double, py::array::c_style | py::array::forcecast>>();
      MTREC_CHECK(numbers.ndim() == 1, "{}: column '{}' has {} dimensions; a column has one", what, column.name,
                  numbers.ndim());
      column.numbers.assign(numbers.data(), numbers.data() + numbers.size());
    } else {
      column.is_text = true;
      for (const py::handle item : value) {
        if (item.is_none() || (py::isinstance<py::float_>(item) && std::isnan(item.cast<double>()))) {
          column.texts.emplace_back();
        } else {
          column.texts.push_back(py::str(item));
        }
      }
    }
    columns.push_back(std::move(column));
  }
  py::gil_scoped_release release;
  return TableFromColumns(columns, what, config, requests);
}

class PyModel {
 public:
  explicit PyModel(LoadedModel loaded) : loaded_(std::move(loaded)) {}

  std::vector<std::string> tasks() const {
    std::vector<std::string> names;
    for (const TaskConfig& task : loaded_.config.tasks) names.push_back(task.name);
    return names;
  }
  std::string config_toml() const { return ConfigToToml(loaded_.config); }

  py::dict predict(const py::object& data) {
    DataConfig config = loaded_.config.data;
    config.on_error = OnError::kFail;  // every input row needs its output row
    const ColumnTable table =
        TableOf(data, config, FeaturePipeline::Requests(loaded_.config, /*labels_required=*/false), "data");
    std::vector<std::vector<float>> predictions;
    {
      py::gil_scoped_release release;
      const EncodedData encoded = loaded_.pipeline->Encode(table);
      predictions = Predict(*loaded_.model, loaded_.config, encoded);
    }
    py::dict out;
    const std::vector<std::string> names = TaskOutputs(loaded_.config).names();
    for (size_t c = 0; c < names.size(); ++c) {
      // The vector moves into a capsule that the array keeps alive: no copy of the scores.
      auto* column = new std::vector<float>(std::move(predictions[c]));
      py::capsule owner(column, [](void* p) { delete static_cast<std::vector<float>*>(p); });
      out[py::str(names[c])] = py::array_t<float>(static_cast<py::ssize_t>(column->size()), column->data(), owner);
    }
    return out;
  }

  // The metrics `mtrec eval --json` writes, as JSON text (the Python side parses it).
  std::string evaluate_json(const py::object& data) {
    const ColumnTable table =
        TableOf(data, loaded_.config.data, EvaluationRequests(loaded_.config, loaded_.config.eval), "data");
    py::gil_scoped_release release;
    const EvaluationRun run = RunEvaluation(loaded_, table, loaded_.config.eval, /*with_curves=*/false);
    nlohmann::ordered_json json = ReportsToJson(run.tasks, run.data.rows);
    AddEvaluationJson(run, json);
    return json.dump();
  }

  void save(const std::string& path) {
    py::gil_scoped_release release;
    SaveModel(path, loaded_.config, *loaded_.pipeline, *loaded_.model, loaded_.history, loaded_.train_labels);
  }
  void export_safetensors(const std::string& path) {
    py::gil_scoped_release release;
    ExportSafetensors(path, loaded_.config, *loaded_.pipeline, *loaded_.model);
  }

 private:
  LoadedModel loaded_;
};

// `config` is a TOML file's path, or with `is_text` the TOML itself (paths in it relative to the working folder).
PyModel Train(const std::string& config_source, bool is_text, const std::vector<std::string>& overrides,
              const py::object& train, const py::object& valid) {
  const Config config = is_text ? ParseConfig(config_source, "<config>", overrides) : LoadConfig(config_source, overrides);
  MTREC_CHECK(!config.tasks.empty(), "{}: no [[tasks]]: declare at least one task",
              is_text ? "the config" : config_source);
  MTREC_CHECK(!config.features.empty(), "{}: no [[features]]: declare at least one input feature",
              is_text ? "the config" : config_source);
  // As `mtrec train` sets them: train.threads (0: all cores) and train.precision (bf16 refused where the CPU lacks
  // it), the precision for this training only: predict and evaluate run in f32, as `mtrec predict` does.
  SetThreads(static_cast<int>(config.train.threads));
  const Precision previous = MatmulPrecision();
  SetMatmulPrecision(config.train.precision, "train.precision");
  struct Restore {
    Precision precision;
    ~Restore() { SetMatmulPrecision(precision); }
  } restore{previous};
  // Files named by the config are read as `mtrec train` reads them; data given here replaces them.
  DataSets sets;
  if (train.is_none()) {
    sets = LoadDataSets(config, /*with_train=*/true);
  } else {
    Config without_files = config;
    without_files.data.train.clear();
    without_files.data.test.clear();
    if (!valid.is_none()) without_files.data.valid.clear();
    sets = LoadDataSets(without_files, /*with_train=*/false);
    const auto requests = FeaturePipeline::Requests(config, /*labels_required=*/true);
    // As the command line treats its training file: derived time-series columns over its rows, then the parts the
    // config holds out of it (data.valid_fraction, ...); a `valid` given here replaces the held-out validation rows.
    sets.train = TableOf(train, config.data, SplitRequests(config, requests), "train");
    AddTimeSeriesColumns(config, *sets.train, {});
    if (SplitsTrainingFile(config.data)) SplitTrainingFile(config, sets);
    if (!valid.is_none()) {
      sets.valid = TableOf(valid, config.data, requests, "valid");
      AddTimeSeriesColumns(config, *sets.valid, {&*sets.train});
    }
  }
  py::gil_scoped_release release;
  LoadedModel trained = TrainModel(config, *sets.train, sets.valid ? &*sets.valid : nullptr, {});
  return PyModel(std::move(trained));
}

PyModel Load(const std::string& path) {
  py::gil_scoped_release release;
  return PyModel(LoadModel(path));
}

}  // namespace
}  // namespace mtrec

PYBIND11_MODULE(_mtrec, m) {
  using namespace mtrec;
  m.doc() = "mtrec's native module; use the mtrec package";
  static py::exception<Error> error(m, "Error");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Interrupted&) {
      PyErr_SetNone(PyExc_KeyboardInterrupt);
    } catch (const Error& e) {
      error(e.what());
    }
  });
  // mtrec's log lines as records of the "mtrec" logger ("warning: ..." lines at WARNING), from whichever thread
  // writes them. The logger is never destroyed: lines may come while the interpreter shuts down.
  SetLogSink([](const std::string& line) {
    if (!Py_IsInitialized()) return;
    py::gil_scoped_acquire gil;
    try {
      static py::object* logger = new py::object(py::module_::import("logging").attr("getLogger")("mtrec"));
      const bool warning = line.rfind("warning: ", 0) == 0;
      logger->attr("log")(warning ? 30 : 20, warning ? line.substr(9) : line);
    } catch (py::error_already_set&) {
      // a broken handler must not stop training
    }
  });
  // Ctrl-C stops a training run between two steps (KeyboardInterrupt), the model left as it was before the step.
  SetInterruptCheck([] {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() == 0) return false;
    PyErr_Clear();
    return true;
  });
  m.def("set_log_level", [](int level) { SetLogLevel(static_cast<LogLevel>(std::clamp(level, 0, 2))); });
  m.def("train", &Train, py::arg("config"), py::arg("is_text"), py::arg("overrides"), py::arg("train"),
        py::arg("valid"));
  m.def("load", &Load, py::arg("path"));
  m.def("simulate", [](const std::string& preset, int64_t rows, uint64_t seed, const std::string& out) {
    SimulatorOptions options;
    options.preset = preset;
    options.rows = rows;
    options.seed = seed;
    py::gil_scoped_release release;
    Simulate(options, out);
  });
  py::class_<PyModel>(m, "Model")
      .def_property_readonly("tasks", &PyModel::tasks)
      .def_property_readonly("config_toml", &PyModel::config_toml)
      .def("predict", &PyModel::predict, py::arg("data"))
      .def("evaluate_json", &PyModel::evaluate_json, py::arg("data"))
      .def("save", &PyModel::save, py::arg("path"))
      .def("export_safetensors", &PyModel::export_safetensors, py::arg("path"));
}
