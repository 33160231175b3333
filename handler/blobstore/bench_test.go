package blobstore_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/profileflow/profileflow/handler/upload"
	"github.com/profileflow/profileflow/handler/uploadclient"
)

// BenchmarkUpload25MiB compares, against one Azurite in one run, the plan
// client (plain net/http, 4 MiB blocks, 4 in flight) with azblob's own
// uploads of the same 25 MiB: UploadStream with the same block size and
// concurrency, and UploadBuffer (which, at this size, sends one Put Blob).
// Every upload writes a fresh blob, as real uploads do, and the blob is
// deleted after its time is taken. Four rounds, each side once per round,
// the order rotating so no side always goes first. Reported: MB/s of each
// side ("plan-MB/s", "stream-MB/s", "buffer-MB/s") and ratio = plan client
// over the faster azblob upload (target ≥ 0.9). It ignores b.N: run it
// with -benchtime 1x.
//
//	go test ./handler/blobstore -run '^$' -bench Upload25MiB -benchtime 1x
func BenchmarkUpload25MiB(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	data := randomFile(file25MiB, 3)
	client := &uploadclient.Client{Concurrency: 4}
	container := e.raw.ServiceClient().NewContainerClient(landing)

	// Each side uploads and returns the blob's name in the container.
	sides := map[string]func(i int) (blobName string, err error){
		"plan": func(int) (string, error) {
			plan, err := e.svc.Create(ctx, alice, profileID, []upload.FileSpec{{Name: "bench.pdf", ContentType: "application/pdf", Size: file25MiB}})
			if err != nil {
				return "", err
			}
			fp := toClientPlan(plan.Files[0])
			if err := client.Upload(ctx, fp, bytes.NewReader(data), nil); err != nil {
				return "", err
			}
			return blobNameOf(b, plan.Files[0].UploadURL), nil
		},
		"stream": func(i int) (string, error) {
			name := fmt.Sprintf("bench/stream-%d", i)
			_, err := container.NewBlockBlobClient(name).UploadStream(ctx, bytes.NewReader(data), &blockblob.UploadStreamOptions{BlockSize: blockSize4, Concurrency: 4})
			return name, err
		},
		"buffer": func(i int) (string, error) {
			name := fmt.Sprintf("bench/buffer-%d", i)
			_, err := container.NewBlockBlobClient(name).UploadBuffer(ctx, data, &blockblob.UploadBufferOptions{Concurrency: 4})
			return name, err
		},
	}
	order := []string{"plan", "stream", "buffer"}
	elapsed := map[string]time.Duration{}
	for round := range 4 {
		for k := range order {
			name := order[(k+round)%len(order)]
			start := time.Now()
			blobName, err := sides[name](round)
			if err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			elapsed[name] += time.Since(start)
			if _, err := container.NewBlobClient(blobName).Delete(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	mbps := func(n string) float64 { return 4 * float64(file25MiB) / elapsed[n].Seconds() / 1e6 }
	b.ReportMetric(mbps("plan"), "plan-MB/s")
	b.ReportMetric(mbps("stream"), "stream-MB/s")
	b.ReportMetric(mbps("buffer"), "buffer-MB/s")
	b.ReportMetric(mbps("plan")/max(mbps("stream"), mbps("buffer")), "ratio")
}
