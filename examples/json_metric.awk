# Prints one metric of one task from the JSON that `mtrec eval --json` writes (indented by 2 spaces per level):
#   awk -v task=click -v key=auc -f examples/json_metric.awk metrics.json
# Prints "nan" when the task or the metric is absent or null.
/^    "[^"]+": \{/ { split($0, parts, "\""); current = parts[2] }
current == task && $0 ~ "^      \"" key "\": " {
  value = $2; sub(/,$/, "", value); found = value
}
END { print (found == "" || found == "null") ? "nan" : found }
