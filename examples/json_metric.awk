# Prints one metric of one task from the JSON that `mtrec eval --json` writes (indented by 2 spaces per level):
#   awk -v task=click -v key=auc -f examples/json_metric.awk metrics.json
# Only the top-level "tasks" object is read (sample spaces, curves and history repeat task names further on).
# Prints "nan" when the task or the metric is absent or null.
/^  "tasks": \{/ { in_tasks = 1; next }
/^  [}"]/ { in_tasks = 0 }
in_tasks && /^    "[^"]+": \{/ { split($0, parts, "\""); current = parts[2] }
in_tasks && current == task && $0 ~ "^      \"" key "\": " {
  value = $2; sub(/,$/, "", value); found = value
}
END { print (found == "" || found == "null") ? "nan" : found }
