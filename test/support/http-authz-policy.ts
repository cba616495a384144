/**
 * The policy the HTTP authorization tests share (integration, nginx and Envoy end to end): an allow
 * with headers for the upstream and the client, a deny with status, headers and body, a body rule.
 */
export const HTTP_AUTHZ_POLICY = `package envoy.authz

default allow := false

allow := {
	"allowed": true,
	"headers": {"x-user": "alice"},
	"response_headers_to_add": {"x-authz": "ok"},
} if {
	input.attributes.request.http.method == "GET"
	input.parsed_path == ["public"]
}

allow := {
	"allowed": false,
	"http_status": 401,
	"headers": {"www-authenticate": "Bearer realm=\\"gh\\"", "x-deny-reason": "no-token"},
	"body": "login first\\n",
} if input.parsed_path == ["private"]

allow := {"allowed": true, "headers": {"x-order": sprintf("%v", [input.parsed_body.order])}} if {
	input.attributes.request.http.method == "POST"
	input.parsed_path == ["orders"]
	input.parsed_body.order == 7
}

allow := {"allowed": true, "headers": {"x-upstream-token": "secret"}, "query_parameters_to_set": {"a": "1"}} if input.parsed_path == ["query-mutation"]

allow := {"allowed": true, "headers": {"x-name": "Zoë €"}} if input.parsed_path == ["utf8-header"]

allow := {"allowed": true, "headers": {":path": "/elsewhere"}} if input.parsed_path == ["pseudo-header"]
`;
