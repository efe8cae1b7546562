# Prints "VALUE METRIC", one line per slice, of one task from the JSON that `mtrec eval --json` writes with
# eval.slice_by (indented by 2 spaces per level):
#   awk -v task=click -v key=auc -f examples/json_slices.awk metrics.json
# Only the top-level "slices" object is read; a null metric prints as "nan".
/^  "slices": \{/ { in_slices = 1; next }
in_slices && /^  [}"]/ { in_slices = 0 }
in_slices && /^      "[^"]+": \[/ { split($0, parts, "\""); current = parts[2]; next }
in_slices && current == task && /^          "value": / {
  value = $0; sub(/^ *"value": "?/, "", value); sub(/"?,?$/, "", value)
}
in_slices && current == task && $0 ~ "^          \"" key "\": " {
  metric = $2; sub(/,$/, "", metric); print value, (metric == "null" ? "nan" : metric)
}
