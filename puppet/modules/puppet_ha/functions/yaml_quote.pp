# @summary A YAML single-quoted scalar: only ' needs escaping (as '').
# @param value The string.
# @return [String] The quoted scalar.
function puppet_ha::yaml_quote(String $value) >> String {
  "'${regsubst($value, "'", "''", 'G')}'"
}
