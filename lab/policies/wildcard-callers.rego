# BROKEN ON PURPOSE, for the demo (`npm run demo`). Never ship a rule like this.
#
# Added next to policies/authz.rego, this rule extends its allow-list with "any workload in the
# shop namespace may charge payments". It looks harmless, but it trusts a pattern instead of
# naming identities: a compromised inventory pod, any new workload someone deploys into ns/shop,
# and (because the trust domain is a wildcard too) a certificate for spiffe://evil.example/ns/shop/...
# all become allowed to move money. The hardened policy (policies/) lists callers one by one and
# compares full SPIFFE IDs exactly.
package envoy.authz

matching_rules contains "shop-namespace-may-charge" if {
	service.name == "payments"
	method == "POST"
	path_has_prefix(input.parsed_path, "/api/v1/charges")
	regex.match(`^spiffe://[^/]+/ns/shop/sa/[^/]+$`, input.attributes.source.principal)
}
