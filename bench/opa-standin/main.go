// opa-standin: a stand-in for opa-envoy-plugin, used by the benchmark ONLY when the real
// opa-envoy-plugin cannot be installed (see bench/README.md). It serves
// envoy.service.auth.v3.Authorization/Check with OPA's Go evaluator (the same OPA release that
// opa-envoy-plugin v1.19.1-envoy embeds) and reproduces that plugin's per-Check hot path:
//
//   protojson.Marshal(CheckRequest) → util.UnmarshalJSON into a map → version, parsed_path,
//   parsed_query, parsed_body, truncated_body → ast.InterfaceToValue → a read transaction on the
//   store → a prepared query (prepared once) evaluated with metrics and that transaction →
//   decision (bool or object) → CheckResponse, with a UUID decision id and dynamic metadata.
//
// Not done (the plugin's defaults with decision logs off): decision logging, Prometheus
// per-request histograms, distributed tracing. So it is, if anything, slightly cheaper per Check
// than the real plugin. Written for the benchmark; it is not a product.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

var v3Info = map[string]interface{}{"ext_authz": "v3", "encoding": "protojson"}

type server struct {
	authv3.UnimplementedAuthorizationServer
	store storage.Store
	pq    rego.PreparedEvalQuery
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9191", "listen address")
	policyDir := flag.String("policies", "", "directory with .rego and data.json")
	query := flag.String("query", "data.envoy.authz.allow", "decision query")
	flag.Parse()

	loaded, err := loader.NewFileLoader().All([]string{*policyDir})
	if err != nil {
		log.Fatalf("load: %v", err)
	}
	store := inmem.NewFromObject(loaded.Documents)
	modules := map[string]*ast.Module{}
	for name, m := range loaded.Modules {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		modules[name] = m.Parsed
	}
	compiler := ast.NewCompiler()
	compiler.Compile(modules)
	if compiler.Failed() {
		log.Fatalf("compile: %v", compiler.Errors)
	}
	pq, err := rego.New(rego.Query(*query), rego.Compiler(compiler), rego.Store(store)).PrepareForEval(context.Background())
	if err != nil {
		log.Fatalf("prepare: %v", err)
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	s := grpc.NewServer()
	authv3.RegisterAuthorizationServer(s, &server{store: store, pq: pq})
	fmt.Fprintf(os.Stderr, "opa-standin is serving on %s\n", lis.Addr())
	if err := s.Serve(lis); err != nil {
		log.Fatal(err)
	}
}

func decisionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	id := decisionID()
	m := metrics.New()
	input, err := requestToInput(req)
	if err != nil {
		return nil, err
	}
	value, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, err
	}
	txn, err := s.store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer s.store.Abort(ctx, txn)
	rs, err := s.pq.Eval(ctx, rego.EvalParsedInput(value), rego.EvalTransaction(txn), rego.EvalMetrics(m))
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 {
		return nil, errors.New("undefined decision")
	}
	return toResponse(rs[0].Expressions[0].Value, id)
}

func requestToInput(req *authv3.CheckRequest) (map[string]interface{}, error) {
	bs, err := protojson.Marshal(req)
	if err != nil {
		return nil, err
	}
	var input map[string]interface{}
	if err := util.UnmarshalJSON(bs, &input); err != nil {
		return nil, err
	}
	input["version"] = v3Info
	httpReq := req.GetAttributes().GetRequest().GetHttp()
	u, err := url.Parse(httpReq.GetPath())
	if err != nil {
		return nil, err
	}
	parts := strings.Split(strings.TrimLeft(u.Path, "/"), "/")
	parsedPath := make([]interface{}, len(parts))
	for i, p := range parts {
		parsedPath[i] = p
	}
	parsedQuery := map[string]interface{}{}
	for k, vs := range u.Query() {
		vals := make([]interface{}, len(vs))
		for i, v := range vs {
			vals[i] = v
		}
		parsedQuery[k] = vals
	}
	input["parsed_path"] = parsedPath
	input["parsed_query"] = parsedQuery
	var parsedBody interface{}
	truncated := false
	headers := httpReq.GetHeaders()
	body := httpReq.GetBody()
	if strings.Contains(headers["content-type"], "application/json") && body != "" {
		if cl, ok := headers["content-length"]; ok {
			n, err := strconv.ParseInt(cl, 10, 64)
			if err != nil {
				return nil, err
			}
			if n != -1 && n > int64(len(body)) {
				truncated = true
			}
		}
		if !truncated {
			if err := util.Unmarshal([]byte(body), &parsedBody); err != nil {
				return nil, err
			}
		}
	}
	input["parsed_body"] = parsedBody
	input["truncated_body"] = truncated
	return input, nil
}

func toResponse(decision interface{}, id string) (*authv3.CheckResponse, error) {
	allowed := false
	status := int64(403)
	var headers map[string]interface{}
	body := ""
	switch d := decision.(type) {
	case bool:
		allowed = d
	case map[string]interface{}:
		allowed, _ = d["allowed"].(bool)
		if h, ok := d["headers"].(map[string]interface{}); ok {
			headers = h
		}
		if b, ok := d["body"].(string); ok {
			body = b
		}
		if n, ok := d["http_status"]; ok {
			if num, ok := n.(interface{ Int64() (int64, error) }); ok {
				status, _ = num.Int64()
			}
		}
	default:
		return nil, fmt.Errorf("illegal decision type %T", decision)
	}
	var hvs []*corev3.HeaderValueOption
	for k, v := range headers {
		s, _ := v.(string)
		hvs = append(hvs, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: s}})
	}
	meta, _ := structpb.NewStruct(map[string]interface{}{"decision_id": id})
	resp := &authv3.CheckResponse{DynamicMetadata: meta}
	if allowed {
		resp.Status = &rpcstatus.Status{Code: int32(codes.OK)}
		resp.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{Headers: hvs}}
	} else {
		resp.Status = &rpcstatus.Status{Code: int32(codes.PermissionDenied)}
		resp.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode(status)}, Headers: hvs, Body: body,
		}}
	}
	return resp, nil
}
