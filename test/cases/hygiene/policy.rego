# The policy the hygiene cases attack: the issue's block-list (everything but /admin), header,
# query, host and body rules in one. Every "example" case was allowed by it before request
# hygiene (compatible mode still allows it), while the request a backend actually serves (the
# case's "canonical") is denied.
package envoy.authz

http := input.attributes.request.http

allow := {"allowed": true} if count(blocked) == 0

allow := {"allowed": false, "reason": concat("; ", blocked)} if count(blocked) > 0

# Block-list: everything but /admin.
blocked contains "path /admin is blocked" if input.parsed_path[0] == "admin"

blocked contains "method DELETE is blocked" if http.method == "DELETE"

blocked contains "header x-role: admin is blocked" if http.headers["x-role"] == "admin"

blocked contains "query role=admin is blocked" if "admin" in input.parsed_query.role

blocked contains "host admin.example.com is blocked" if http.host == "admin.example.com"

blocked contains "body role admin is blocked" if input.parsed_body.role == "admin"

blocked contains "multipart meta role admin is blocked" if input.parsed_body.meta[_].role == "admin"

blocked contains "form role admin is blocked" if "admin" in input.parsed_body.role

blocked contains "body amount over 1000 is blocked" if {
	is_number(input.parsed_body.amount)
	input.parsed_body.amount > 1000
}

blocked contains "form amount over 1000 is blocked" if {
	some value in input.parsed_body.amount
	regex.match(`^[0-9]{1,9}$`, value)
	to_number(value) > 1000
}

# parsed_path ["api", "admin"]: what Tomcat, Spring and nginx serve for /api//admin.
blocked contains "path /api/admin is blocked" if {
	input.parsed_path[0] == "api"
	input.parsed_path[1] == "admin"
}
