# @summary A YAML flow sequence of single-quoted scalars.
# @param values The strings.
# @return [String] `['a', 'b']`.
function puppet_ha::yaml_list(Array[String] $values) >> String {
  "[${values.map |$v| { puppet_ha::yaml_quote($v) }.join(', ')}]"
}
