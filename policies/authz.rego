# Service-to-service allow-list for a mesh, keyed by SPIFFE ID.
#
# Which caller may call which methods and path prefixes on which destination is data
# (data.json: data.mesh.services), not code. Everything not listed is denied.
#
# A rule lists path prefixes (`paths`: "/api/v1" matches /api/v1 and /api/v1/...) and/or whole
# paths (`exact_paths`: "/api/v1/orders/{int}" matches that path and nothing below it). In both, a
# segment written {int}, {uuid}, {hex} or {NAME} is a variable that matches exactly one non-empty
# segment of that shape (see variable_pattern); it never matches "/", "." or "..", an empty
# segment, or several segments. A segment may also hold one variable between a literal prefix
# and/or suffix ("sku-{int}", "page{int}", "{uuid}.json", "report-{id}.pdf"): the literal parts
# are compared exactly, and what lies between them must be a non-empty value of the variable's
# shape, as for a whole-segment variable. `gatehouse learn` writes exact_paths from decision logs.
#
# Identities come from gatehouse's parsed `input.identity` (strict SPIFFE parsing of the mTLS
# principals Envoy forwards), so the policy never slices principal strings by hand. Paths are
# matched segment by segment on `input.parsed_path`, so "/api/v1/stock" does not match
# "/api/v1/stockpile", and gatehouse has already refused "..", "." and undecodable segments.
package envoy.authz

source := input.identity.source

destination := input.identity.destination

method := input.attributes.request.http.method

# The allow-list entry of the service being called.
service := data.mesh.services[destination.spiffe_id]

# Names of the rules that let this request through.
matching_rules contains rule.name if {
	source.valid
	some rule in service.allow
	source.spiffe_id in rule.callers
	method in rule.methods
	rule_matches_path(rule, input.parsed_path)
}

rule_matches_path(rule, path) if {
	some prefix in rule.paths
	path_has_prefix(path, prefix)
}

rule_matches_path(rule, path) if {
	some template in rule.exact_paths
	path_is(path, template)
}

# "/" matches every path; "/api/v1" matches /api/v1 and /api/v1/..., not /api/v1x.
path_has_prefix(_, "/")

path_has_prefix(path, prefix) if {
	prefix != "/"
	want := split(trim_prefix(prefix, "/"), "/")
	count(path) >= count(want)
	every i, w in want {
		segment_matches(path[i], w)
	}
}

# The whole path, segment by segment: "/" is only the root, "/a/" only /a/ (a trailing empty segment).
path_is(path, template) if {
	want := split(trim_prefix(template, "/"), "/")
	count(path) == count(want)
	every i, w in want {
		segment_matches(path[i], w)
	}
}

segment_matches(segment, want) if {
	not contains(want, "{")
	segment == want
}

# Segments of the template holding "{" (few): a variable, a template segment, or literal text.
segment_matches(segment, want) if {
	contains(want, "{")
	braced_segment_matches(segment, want)
}

braced_segment_matches(segment, want) if {
	is_variable(want)
	want != "{uuid}"
	regex.match(variable_pattern(want), segment)
}

# A UUID without the long pattern (8-4-4-4-12 hex digits): same strings, cheaper to match.
braced_segment_matches(segment, "{uuid}") if is_uuid(segment)

# A literal prefix and/or suffix around one variable ("sku-{int}", "{uuid}.json"): the segment
# starts with the prefix, ends with the suffix, and the part between them, never empty, is a
# whole value of the variable's shape (so "sku-" and "sku-1x" do not match "sku-{int}").
braced_segment_matches(segment, want) if {
	not is_variable(want)
	[prefix, variable, suffix] := template_parts(want)
	startswith(segment, prefix)
	endswith(segment, suffix)
	length := (count(segment) - count(prefix)) - count(suffix)
	length > 0
	variable_matches(substring(segment, count(prefix), length), variable)
}

# Two variables, "{}", a lone brace: literal text.
braced_segment_matches(segment, want) if {
	segment == want
	not is_variable(want)
	not template_parts(want)
}

is_uuid(segment) if {
	count(segment) == 36
	regex.match(`^[0-9a-fA-F-]+$`, segment)
	count(split(segment, "-")) == 5
	substring(segment, 8, 1) == "-"
	substring(segment, 13, 1) == "-"
	substring(segment, 18, 1) == "-"
	substring(segment, 23, 1) == "-"
}

variable_matches(value, variable) if {
	variable != "{uuid}"
	regex.match(variable_pattern(variable), value)
}

variable_matches(value, "{uuid}") if is_uuid(value)

# Plain string tests: most segments are literal, and a regex per segment would cost more.
# "{name}" only: a non-empty name without braces ("{}", "{a}{b}" and "{int}-{int}" are not
# variables, so not a generic {id} that would match "admin"; they are literal text).
is_variable(want) if {
	startswith(want, "{")
	endswith(want, "}")
	name := substring(want, 1, count(want) - 2)
	name != ""
	not contains(name, "{")
	not contains(name, "}")
}

# [prefix, "{name}", suffix] of a segment holding exactly one "{" and one "}", in that order, with
# a non-empty name between them; either literal part may be empty (callers test is_variable
# first: "{name}" alone is a whole-segment variable).
template_parts(want) := [substring(want, 0, open), variable, substring(want, close + 1, -1)] if {
	count(split(want, "{")) == 2
	count(split(want, "}")) == 2
	open := indexof(want, "{")
	close := indexof(want, "}")
	close > open + 1
	variable := substring(want, open, (close - open) + 1)
}

# Each variable matches one whole segment (anchored: no "/", "%", "\\" or space; never "." or "..";
# the generic one starts with a letter, digit or "_").
variable_pattern("{int}") := `^[0-9]+$`

# 16 or more, as `gatehouse learn` makes {hex} only of hashes that long: never a word such as "cafe".
variable_pattern("{hex}") := `^[0-9a-fA-F]{16,}$`

variable_pattern("{uuid}") := `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`

variable_pattern(want) := `^[A-Za-z0-9_][A-Za-z0-9._~:@+=,-]*$` if not want in {"{int}", "{hex}", "{uuid}"}

allow := {
	"allowed": true,
	"reason": sprintf("%s may %s %s on %s (rule \"%s\")", [source.spiffe_id, method, request_path, service.name, rule_name]),
	# Tell the upstream service who called, from the verified identity. Envoy overwrites any
	# header of the same name the caller sent.
	"headers": {
		"x-caller-spiffe-id": source.spiffe_id,
		"x-gatehouse-rule": rule_name,
	},
} if {
	rule_name := sort([name | some name in matching_rules])[0]
} else := {
	"allowed": false,
	"http_status": 403,
	"reason": deny_reason,
	"headers": {"content-type": "application/json"},
	"body": json.marshal({"error": "forbidden", "reason": deny_reason}),
}

# The path as the policy matched it (decoded segments, no query), for reasons. Built from
# parsed_path rather than the raw path, so the decision does not depend on the query string and
# gatehouse's decision cache can serve repeated calls that differ only in their query.
request_path := concat("/", array.concat([""], input.parsed_path))

caller_label := source.spiffe_id if source.valid

else := sprintf("an invalid caller identity (%s)", [source.error])

deny_reason := sprintf("caller has no valid SPIFFE ID: %s", [source.error]) if {
	not source.valid
} else := sprintf("destination %s is not in the mesh allow-list", [destination_label]) if {
	not service
} else := sprintf("%s may not call %s", [caller_label, service.name]) if {
	not caller_listed
} else := sprintf("%s may not %s %s on %s", [caller_label, method, request_path, service.name])

destination_label := destination.spiffe_id if destination.valid

else := sprintf("(invalid identity: %s)", [destination.error])

caller_listed if {
	some rule in service.allow
	source.spiffe_id in rule.callers
}
