// Reads the YAML files Puppet writes on a node (last_run_summary.yaml, a facts cache) with js-yaml:
// ~2 MB of RSS against ~7.6 MB for the `yaml` package, paid by twitch on every node (issue 16).
import { CORE_SCHEMA, defineMappingTag, load, mapTag } from "js-yaml";

/**
 * The YAML 1.2 core schema (what the `yaml` package reads by default), plus Ruby object tags read
 * as plain mappings: Puppet's facts cache opens with `--- !ruby/object:Puppet::Node::Facts`.
 */
const PUPPET_SCHEMA = CORE_SCHEMA.withTags(defineMappingTag("!ruby/", { ...mapTag, matchByTagPrefix: true }));

/** The document of a file Puppet wrote; throws on text that is not one YAML document. */
export function parsePuppetYaml(text: string): unknown {
  return load(text, { schema: PUPPET_SCHEMA });
}
