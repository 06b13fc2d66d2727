# @summary A YAML single-quoted scalar: only ' needs escaping (as '').
function puppet_ha::yaml_quote(String $value) >> String {
  "'${regsubst($value, "'", "''", 'G')}'"
}
