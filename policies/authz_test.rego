# Tests for the example mesh allow-list policy (authz.rego + data.json).
#
#   .tools/bin/opa test policies -v
package envoy.authz_test

import data.envoy.authz

checkout := "spiffe://mesh.local/ns/shop/sa/checkout"

inventory := "spiffe://mesh.local/ns/shop/sa/inventory"

payments := "spiffe://mesh.local/ns/shop/sa/payments"

prober := "spiffe://mesh.local/ns/ops/sa/prober"

gateway := "spiffe://mesh.local/ns/edge/sa/gateway"

not_scheme_error := "scheme is not spiffe://"

no_principal_error := "no principal (the peer did not present a certificate)"

# --- helpers -----------------------------------------------------------------

# A valid identity, as gatehouse parses it, for a spiffe://<td>/ns/<ns>/sa/<sa> ID.
spiffe(id) := {
	"principal": id,
	"valid": true,
	"spiffe_id": id,
	"trust_domain": parts[0],
	"path": concat("/", array.concat([""], segments)),
	"segments": segments,
	"namespace": segments[1],
	"service_account": segments[3],
} if {
	parts := split(trim_prefix(id, "spiffe://"), "/")
	segments := array.slice(parts, 1, count(parts))
}

# A principal that is not a SPIFFE ID.
not_spiffe(principal) := {"principal": principal, "valid": false, "error": not_scheme_error}

# The peer presented no certificate.
no_principal := {"principal": null, "valid": false, "error": no_principal_error}

# A string is taken as a (valid) SPIFFE ID; an object is used as the identity as is.
identity(x) := spiffe(x) if is_string(x)

identity(x) := x if is_object(x)

# parsed_path as gatehouse computes it for plain (non-percent-encoded) paths.
parsed(path) := split(trim_left(split(path, "?")[0], "/"), "/")

# The input document for a call from `src` to `dst`.
req(src, dst, method, path) := req_parsed(src, dst, method, path, parsed(path))

req_parsed(src, dst, method, path, parsed_path) := {
	"attributes": {"request": {"http": {
		"method": method,
		"path": path,
		"headers": {":method": method, ":path": path},
	}}},
	"parsed_path": parsed_path,
	"parsed_query": {},
	"identity": {
		"source": identity(src),
		"destination": identity(dst),
	},
}

decision(src, dst, method, path) := d if {
	d := authz.allow with input as req(src, dst, method, path)
}

allowed_by(d, caller, rule) if {
	d.allowed == true
	d.headers == {"x-caller-spiffe-id": caller, "x-gatehouse-rule": rule}
	not d.http_status
}

denied_with(d, reason) if {
	d.allowed == false
	d.http_status == 403
	d.reason == reason
	d.headers == {"content-type": "application/json"}
	json.unmarshal(d.body) == {"error": "forbidden", "reason": reason}
}

# --- allowed: one test per rule in data.json -----------------------------------

test_checkout_reads_stock if {
	d := decision(checkout, inventory, "GET", "/api/v1/stock/sku-42?x=1")
	allowed_by(d, checkout, "checkout-reads-stock")
	d.reason == sprintf("%s may GET /api/v1/stock/sku-42 on inventory (rule \"checkout-reads-stock\")", [checkout])
}

test_checkout_reads_stock_head if {
	allowed_by(decision(checkout, inventory, "HEAD", "/api/v1/stock/sku-42"), checkout, "checkout-reads-stock")
}

test_checkout_reserves_stock if {
	allowed_by(decision(checkout, inventory, "POST", "/api/v1/reservations"), checkout, "checkout-reserves-stock")
	allowed_by(decision(checkout, inventory, "DELETE", "/api/v1/reservations/r-7"), checkout, "checkout-reserves-stock")
}

test_prober_inventory_healthz if {
	allowed_by(decision(prober, inventory, "GET", "/healthz"), prober, "probes")
}

test_checkout_charges if {
	allowed_by(decision(checkout, payments, "POST", "/api/v1/charges"), checkout, "checkout-charges")
}

test_prober_payments_healthz if {
	allowed_by(decision(prober, payments, "GET", "/healthz"), prober, "probes")
}

test_gateway_orders_both_prefixes if {
	allowed_by(decision(gateway, checkout, "GET", "/api/v1/cart"), gateway, "gateway-orders")
	allowed_by(decision(gateway, checkout, "POST", "/api/v1/orders/o-1/items"), gateway, "gateway-orders")
}

# --- path prefix matching ------------------------------------------------------

test_exact_prefix_path_allowed if {
	allowed_by(decision(checkout, inventory, "GET", "/api/v1/stock"), checkout, "checkout-reads-stock")
}

test_prefix_lookalike_denied if {
	denied_with(
		decision(checkout, inventory, "GET", "/api/v1/stockpile"),
		sprintf("%s may not GET /api/v1/stockpile on inventory", [checkout]),
	)
}

test_shorter_path_than_prefix_denied if {
	denied_with(
		decision(checkout, inventory, "GET", "/api/v1"),
		sprintf("%s may not GET /api/v1 on inventory", [checkout]),
	)
}

# "%2F" is decoded inside a segment, never into a separator.
test_encoded_slash_is_not_a_separator if {
	d := authz.allow with input as req_parsed(checkout, inventory, "GET", "/api/v1/stock%2Fx", ["api", "v1", "stock/x"])

	# The reason shows the decoded segments the policy matched (the raw path is in the decision log).
	denied_with(d, sprintf("%s may not GET /api/v1/stock/x on inventory", [checkout]))
}

# --- denials -------------------------------------------------------------------

test_wrong_method_denied if {
	denied_with(
		decision(checkout, payments, "GET", "/api/v1/charges?id=1"),
		sprintf("%s may not GET /api/v1/charges on payments", [checkout]),
	)
}

test_listed_caller_wrong_rule_path_denied if {
	# checkout is listed on inventory, but not for /healthz (that is the prober's rule).
	denied_with(
		decision(checkout, inventory, "GET", "/healthz"),
		sprintf("%s may not GET /healthz on inventory", [checkout]),
	)
}

test_unlisted_caller_denied if {
	d := decision(gateway, payments, "POST", "/api/v1/charges")
	denied_with(d, sprintf("%s may not call payments", [gateway]))
	contains(d.reason, "may not call")
}

test_same_sa_other_trust_domain_denied if {
	other := "spiffe://evil.example/ns/shop/sa/checkout"
	denied_with(decision(other, payments, "POST", "/api/v1/charges"), sprintf("%s may not call payments", [other]))
}

test_unknown_destination_denied if {
	dst := "spiffe://mesh.local/ns/shop/sa/shipping"
	d := decision(checkout, dst, "GET", "/api/v1/stock")
	denied_with(d, sprintf("destination %s is not in the mesh allow-list", [dst]))
	contains(d.reason, "not in the mesh allow-list")
}

test_invalid_destination_identity_denied if {
	denied_with(
		decision(checkout, not_spiffe("inventory.shop.svc"), "GET", "/api/v1/stock"),
		sprintf("destination (invalid identity: %s) is not in the mesh allow-list", [not_scheme_error]),
	)
}

test_invalid_source_identity_denied if {
	d := decision(not_spiffe("checkout.shop.svc"), inventory, "GET", "/api/v1/stock")
	denied_with(d, sprintf("caller has no valid SPIFFE ID: %s", [not_scheme_error]))
	contains(d.reason, "no valid SPIFFE ID")
}

test_missing_source_principal_denied if {
	denied_with(
		decision(no_principal, inventory, "GET", "/api/v1/stock"),
		sprintf("caller has no valid SPIFFE ID: %s", [no_principal_error]),
	)
}

# An invalid source is reported before an unknown destination.
test_invalid_source_reported_before_unknown_destination if {
	denied_with(
		decision(no_principal, no_principal, "GET", "/"),
		sprintf("caller has no valid SPIFFE ID: %s", [no_principal_error]),
	)
}

# An identity object that claims a listed spiffe_id but is not valid is not trusted.
test_source_marked_invalid_is_not_trusted if {
	forged := object.union(spiffe(checkout), {"valid": false, "error": "bad"})
	denied_with(decision(forged, inventory, "GET", "/api/v1/stock"), "caller has no valid SPIFFE ID: bad")
}

test_denials_are_403_json if {
	d := decision(gateway, inventory, "DELETE", "/api/v1/reservations")
	d.allowed == false
	d.http_status == 403
	d.headers["content-type"] == "application/json"
	body := json.unmarshal(d.body)
	body.reason == d.reason
	body.error == "forbidden"
}

# --- policy mechanics, with substituted data --------------------------------------

# When several rules match, the alphabetically first name is reported.
test_multiple_matching_rules_first_name_wins if {
	services := {inventory: {"name": "inventory", "allow": [
		{"name": "zz-wide", "callers": [checkout], "methods": ["GET"], "paths": ["/"]},
		{"name": "aa-narrow", "callers": [checkout], "methods": ["GET"], "paths": ["/api"]},
	]}}
	d := authz.allow with input as req(checkout, inventory, "GET", "/api/x") with data.mesh.services as services
	allowed_by(d, checkout, "aa-narrow")
}

test_root_prefix_matches_everything if {
	services := {inventory: {"name": "inventory", "allow": [{"name": "all", "callers": [checkout], "methods": ["GET"], "paths": ["/"]}]}}
	root := authz.allow with input as req(checkout, inventory, "GET", "/") with data.mesh.services as services
	allowed_by(root, checkout, "all")
	deep := authz.allow with input as req(checkout, inventory, "GET", "/any/thing?q") with data.mesh.services as services
	allowed_by(deep, checkout, "all")
}

# --- exact_paths and path templates (what `gatehouse learn` writes) ---------------

templated := {inventory: {"name": "inventory", "allow": [
	{"name": "orders", "callers": [checkout], "methods": ["GET"], "exact_paths": ["/api/v1/orders/{int}", "/api/v1/orders/{uuid}/items", "/blobs/{hex}", "/skus/{id}", "/", "/api/v1/orders"]},
	{"name": "prefixed", "callers": [checkout], "methods": ["PUT"], "paths": ["/tenants/{id}/files"]},
]}}

templated_decision(method, path, parsed_path) := d if {
	d := authz.allow with input as req_parsed(checkout, inventory, method, path, parsed_path) with data.mesh.services as templated
}

templated_allows(method, path) if allowed_by(templated_decision(method, path, parsed(path)), checkout, "orders")

templated_denies(method, path, parsed_path) if templated_decision(method, path, parsed_path).allowed == false

test_template_variables_match_one_segment_of_their_shape if {
	templated_allows("GET", "/api/v1/orders/42")
	templated_allows("GET", "/api/v1/orders/0?expand=1")
	templated_allows("GET", "/api/v1/orders/3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c11/items")
	templated_allows("GET", "/blobs/9f86d081884c7d659a2feaa0c55ad015")
	templated_allows("GET", "/blobs/0123456789ABCDEF")
	templated_allows("GET", "/skus/sku-8f3A_2.v1")
	templated_allows("GET", "/")
	templated_allows("GET", "/api/v1/orders")
}

uuid_items(bad) := ["api", "v1", "orders", bad, "items"]

test_template_variable_refuses_other_shapes if {
	templated_denies("GET", "/api/v1/orders/4a", ["api", "v1", "orders", "4a"])
	templated_denies("GET", "/api/v1/orders/-1", ["api", "v1", "orders", "-1"])
	templated_denies("GET", "/api/v1/orders/12345678-1234-1234-1234-1234567890/items", ["api", "v1", "orders", "12345678-1234-1234-1234-1234567890", "items"])
	templated_denies("GET", "/api/v1/orders/x/items", uuid_items("3f2c9a1e0-b7d-4c55-9e61-2b8f0a9d7c11"))
	templated_denies("GET", "/api/v1/orders/x/items", uuid_items("3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c1-"))
	templated_denies("GET", "/api/v1/orders/x/items", uuid_items("3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c1g"))
	templated_denies("GET", "/api/v1/orders/x/items", uuid_items("3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c11a"))
	templated_denies("GET", "/api/v1/orders/x/items", uuid_items("3f2c9a1e-0b7d-4c55-9e61--b8f0a9d7c11"))
	templated_denies("GET", "/blobs/xyz", ["blobs", "xyz"])
	# {hex} is a hash: 16 hex digits or more, never a short word spelled in hex.
	templated_denies("GET", "/blobs/cafe", ["blobs", "cafe"])
	templated_denies("GET", "/blobs/a", ["blobs", "a"])
	templated_denies("GET", "/blobs/0123456789abcde", ["blobs", "0123456789abcde"])
}

test_exact_path_is_whole_path if {
	templated_denies("GET", "/api/v1/orders/42/items", ["api", "v1", "orders", "42", "items"])
	templated_denies("GET", "/api/v1/orders/42/", ["api", "v1", "orders", "42", ""])
	templated_denies("GET", "/api/v1", ["api", "v1"])
	templated_denies("GET", "/api/v1/orders/", ["api", "v1", "orders", ""])
	templated_denies("GET", "/x", ["x"])
	templated_denies("GET", "/api/v2/orders/42", ["api", "v2", "orders", "42"])
	templated_denies("POST", "/api/v1/orders/42", ["api", "v1", "orders", "42"])
}

test_template_variable_never_spans_or_escapes_a_segment if {
	# An empty segment, an encoded "/" (kept inside the segment), dot segments, a backslash, an
	# encoded "%", a space: none is one plain segment.
	templated_denies("GET", "/skus/", ["skus", ""])
	templated_denies("GET", "/skus//x", ["skus", "", "x"])
	templated_denies("GET", "/skus/a%2Fb", ["skus", "a/b"])
	templated_denies("GET", "/skus/..", ["skus", ".."])
	templated_denies("GET", "/skus/.", ["skus", "."])
	templated_denies("GET", "/skus/.env", ["skus", ".env"])
	templated_denies("GET", "/skus/a%5Cb", ["skus", "a\\b"])
	templated_denies("GET", "/skus/a%252Fb", ["skus", "a%2Fb"])
	templated_denies("GET", "/skus/a%20b", ["skus", "a b"])
	templated_denies("GET", "/skus/a;b", ["skus", "a;b"])
	templated_denies("GET", "/api/v1/orders/4%0A2", ["api", "v1", "orders", "4\n2"])
}

test_template_in_prefix_paths if {
	d := templated_decision("PUT", "/tenants/t-1/files/a/b", parsed("/tenants/t-1/files/a/b"))
	allowed_by(d, checkout, "prefixed")
	templated_denies("PUT", "/tenants/t-1/other", ["tenants", "t-1", "other"])
	templated_denies("PUT", "/tenants/a%2Fb/files", ["tenants", "a/b", "files"])
}

# A literal segment spelled like a variable in the request is compared as text, not as a pattern.
test_request_segment_shaped_like_a_variable_is_literal if {
	templated_denies("GET", "/api/v1/orders/{int}/items", ["api", "v1", "orders", "{int}", "items"])
	templated_denies("GET", "/skus/{id}", ["skus", "{id}"])
}

# --- template segments: a literal prefix and/or suffix around one variable ----------------------

shaped := {inventory: {"name": "inventory", "allow": [
	{"name": "shaped", "callers": [checkout], "methods": ["GET"], "exact_paths": ["/stock/sku-{int}", "/page{int}", "/files/{uuid}.json", "/reports/report-{id}.pdf", "/docs/{int}.pdf", "/blobs/h-{hex}", "/v/{id}.pdf"]},
	{"name": "shaped prefix", "callers": [checkout], "methods": ["PUT"], "paths": ["/t/tenant-{int}"]},
]}}

shaped_decision(method, path, parsed_path) := d if {
	d := authz.allow with input as req_parsed(checkout, inventory, method, path, parsed_path) with data.mesh.services as shaped
}

shaped_allows(path) if allowed_by(shaped_decision("GET", path, parsed(path)), checkout, "shaped")

shaped_denies(parsed_path) if shaped_decision("GET", concat("/", array.concat([""], parsed_path)), parsed_path).allowed == false

test_template_segment_prefix_and_suffix_around_a_variable if {
	shaped_allows("/stock/sku-1001")
	shaped_allows("/stock/sku-0")
	shaped_allows("/page0")
	shaped_allows("/page11?x=1")
	shaped_allows("/files/3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c11.json")
	shaped_allows("/reports/report-2026-q3.pdf")
	shaped_allows("/docs/42.pdf")
	shaped_allows("/blobs/h-9f86d081884c7d659a2feaa0c55ad015")
	# {id} holds dots: the part between "" and ".pdf" of x.pdf.pdf is "x.pdf", an {id}.
	shaped_allows("/v/x.pdf.pdf")
	d := shaped_decision("PUT", "/t/tenant-7/a/b", parsed("/t/tenant-7/a/b"))
	allowed_by(d, checkout, "shaped prefix")
}

test_template_segment_literal_parts_are_exact if {
	# Not the neighbouring literal, other prefixes, case, or the bare literal parts.
	shaped_denies(["stock", "admin"])
	shaped_denies(["stock", "sku-"])
	shaped_denies(["stock", "sku"])
	shaped_denies(["stock", "SKU-1"])
	shaped_denies(["stock", "xsku-1"])
	shaped_denies(["stock", "1001"])
	shaped_denies(["page"])
	shaped_denies(["pageX"])
	shaped_denies(["Page1"])
	shaped_denies(["anything"])
	shaped_denies(["page1", "x"])
	shaped_denies(["files", "3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c11"])
	shaped_denies(["files", "3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c11.JSON"])
	shaped_denies(["files", ".json"])
	shaped_denies(["reports", "report-.pdf"])
	shaped_denies(["reports", "report.pdf"])
	shaped_denies(["reports", "report-x.pd"])
	shaped_denies(["reports", "other-x.pdf"])
	shaped_denies(["v", ".pdf"])
	shaped_denies(["blobs", "h-cafe"])
	denied := shaped_decision("PUT", "/t/tenant-/a", ["t", "tenant-", "a"])
	denied.allowed == false
}

test_template_segment_variable_never_spans_into_the_literal_parts if {
	# The suffix is the end of the segment, the variable what lies before it: never "1.pdf".
	shaped_denies(["docs", "1.pdf.pdf"])
	shaped_denies(["docs", "1.pdf1.pdf"])
	shaped_denies(["docs", "1x.pdf"])
	shaped_denies(["stock", "sku-1-2"])
	shaped_denies(["stock", "sku-sku-1"])
	shaped_denies(["page1page2"])
	shaped_denies(["files", "3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c11.json.json"])
	# The variable part obeys the same rules as a whole-segment variable.
	shaped_denies(["reports", "report-..pdf"])
	shaped_denies(["reports", "report-.x.pdf"])
	shaped_denies(["reports", "report-a b.pdf"])
	shaped_denies(["reports", "report-a/b.pdf"])
	shaped_denies(["reports", "report-a%2Fb.pdf"])
	shaped_denies(["reports", "report-a\\b.pdf"])
	shaped_denies(["v", "..pdf"])
	shaped_denies(["page-1"])
	shaped_denies(["page1 "])
	shaped_denies(["page 1"])
}

test_template_segment_literal_braces if {
	# A request spelled like the template is text: "{int}" is not digits.
	shaped_denies(["stock", "sku-{int}"])
	shaped_denies(["page{int}"])
	shaped_denies(["files", "{uuid}.json"])
	shaped_denies(["reports", "report-{id}.pdf"])
	shaped_denies(["reports", "report-{.pdf"])
	# A data segment with two variables, "{}" or a lone brace is literal text, matched exactly.
	braces := {inventory: {"name": "inventory", "allow": [{"name": "braces", "callers": [checkout], "methods": ["GET"], "exact_paths": ["/a/x{int}{int}", "/b/x{}", "/c/x{y", "/d/x}y{"]}]}}
	two := authz.allow with input as req_parsed(checkout, inventory, "GET", "/a/x12", ["a", "x12"]) with data.mesh.services as braces
	two.allowed == false
	for_text := authz.allow with input as req_parsed(checkout, inventory, "GET", "/a/x{int}{int}", ["a", "x{int}{int}"]) with data.mesh.services as braces
	for_text.allowed == true
	empty := authz.allow with input as req_parsed(checkout, inventory, "GET", "/b/x1", ["b", "x1"]) with data.mesh.services as braces
	empty.allowed == false
	lone := authz.allow with input as req_parsed(checkout, inventory, "GET", "/c/x{y", ["c", "x{y"]) with data.mesh.services as braces
	lone.allowed == true
	reversed := authz.allow with input as req_parsed(checkout, inventory, "GET", "/d/x}y{", ["d", "x}y{"]) with data.mesh.services as braces
	reversed.allowed == true
	reversed_other := authz.allow with input as req_parsed(checkout, inventory, "GET", "/d/x}1{", ["d", "x}1{"]) with data.mesh.services as braces
	reversed_other.allowed == false
}

test_braced_segment_starting_and_ending_with_braces_is_not_a_variable if {
	# "{}", "{a}{b}" and "{int}-{int}" start with "{" and end with "}" but are not one "{name}":
	# literal text, never a generic {id} that allows "admin" (review).
	braces := {inventory: {"name": "inventory", "allow": [{"name": "braces", "callers": [checkout], "methods": ["GET"], "exact_paths": ["/a/{int}-{int}", "/b/{}", "/c/{a}{b}"], "paths": ["/p/{int}-{int}"]}]}}
	every segments in [["a", "admin"], ["a", "1-2"], ["b", "admin"], ["b", "x"], ["c", "admin"], ["p", "admin"], ["p", "1-2", "x"]] {
		denied := authz.allow with input as req_parsed(checkout, inventory, "GET", concat("/", array.concat([""], segments)), segments) with data.mesh.services as braces
		denied.allowed == false
	}
	every segments in [["a", "{int}-{int}"], ["b", "{}"], ["c", "{a}{b}"], ["p", "{int}-{int}", "x"]] {
		allowed := authz.allow with input as req_parsed(checkout, inventory, "GET", concat("/", array.concat([""], segments)), segments) with data.mesh.services as braces
		allowed.allowed == true
	}
}
