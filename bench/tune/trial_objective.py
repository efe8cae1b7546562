"""The value of a trained trial as `mtrec tune` scores it, for the Python side of bench/tune: the mean validation
AUC of the config's main tasks (not auxiliary) at the best epoch, read with `mtrec inspect --history-json`."""
import json
import subprocess
import tomllib


def main_tasks(config_path):
    with open(config_path, "rb") as f:
        config = tomllib.load(f)
    return [t["name"] for t in config.get("tasks", []) if not t.get("auxiliary", False)]


def objective_of(mtrec, model, tasks):
    """The best epoch's mean validation AUC over `tasks`; None when the history has none."""
    history = json.loads(subprocess.run([mtrec, "inspect", model, "--history-json"], check=True,
                                        capture_output=True, text=True).stdout)
    best = None
    for epoch in history:
        values = [epoch["valid"][t]["auc"] for t in tasks if t in epoch["valid"] and "auc" in epoch["valid"][t]]
        if values:
            mean = sum(values) / len(values)
            best = mean if best is None else max(best, mean)
    return best
