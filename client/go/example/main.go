// Command example calls otserve from Go: the seed example (a = [.5, .5],
// b = [.2, .8], M = [[0, 1], [1, 0]], exact: 0.3) and a Sinkhorn distance
// between two small point clouds read from the command line. It prints one
// JSON object, so tests can compare it with the other clients.
//
//	example --server 127.0.0.1:50051 [--token T]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	otv1 "otserve/ot/v1"
)

// values builds a float64 Array of the given shape from row-major values.
func values(shape []int64, v ...float64) *otv1.Array {
	return &otv1.Array{Shape: shape, Dtype: otv1.DType_DTYPE_FLOAT64, Values: v}
}

func main() {
	server := flag.String("server", "127.0.0.1:50051", "host:port, dns:///name:port or ip:port,ip:port")
	token := flag.String("token", os.Getenv("OTSERVE_TOKEN"), "bearer token")
	config := flag.String("service_config", "", "service config JSON file (proto/ot/v1/service_config.json)")
	epsilon := flag.Float64("epsilon", 0.1, "Sinkhorn epsilon (absolute)")
	flag.Parse()

	options := []grpc.DialOption{grpc.WithInsecure()}
	if *config != "" {
		text, err := os.ReadFile(*config)
		if err != nil {
			fail(err)
		}
		options = append(options, grpc.WithDefaultServiceConfig(string(text)))
	}
	conn, err := grpc.Dial(*server, options...)
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	client := otv1.NewOptimalTransportServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if *token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+*token)
	}

	seed, err := client.Distance(ctx, &otv1.DistanceRequest{
		Source: &otv1.Measure{Weights: values([]int64{2}, 0.5, 0.5)},
		Target: &otv1.Measure{Weights: values([]int64{2}, 0.2, 0.8)},
		Cost: &otv1.Cost{Kind: otv1.CostKind_COST_KIND_EXPLICIT,
			Matrix: values([]int64{2, 2}, 0, 1, 1, 0)},
		Method: otv1.Method_METHOD_EXACT,
	})
	if err != nil {
		fail(err)
	}

	scale := otv1.EpsilonScale_EPSILON_SCALE_ABSOLUTE
	sinkhorn, err := client.Distance(ctx, &otv1.DistanceRequest{
		Source: &otv1.Measure{Points: values([]int64{3, 2}, 0, 0, 1, 0, 0, 1)},
		Target: &otv1.Measure{Points: values([]int64{2, 2}, 2, 0, 0, 2)},
		Method: otv1.Method_METHOD_SINKHORN,
		Options: &otv1.SolverOptions{Epsilon: epsilon, EpsilonScale: scale},
	})
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(map[string]interface{}{
		"seed_value":         seed.GetValue(),
		"seed_converged":     seed.GetDiagnostics().GetConverged(),
		"sinkhorn_value":     sinkhorn.GetValue(),
		"sinkhorn_converged": sinkhorn.GetDiagnostics().GetConverged(),
		"sinkhorn_method":    sinkhorn.GetDiagnostics().GetMethod().String(),
	})
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "example:", err)
	os.Exit(1)
}
