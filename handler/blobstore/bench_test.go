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
// Every iteration writes a fresh blob, as real uploads do, and deletes it
// with the timer stopped. Each side runs twice, in alternating order. It
// logs MB/s and the ratios (target plan/azblob ≥ 0.9).
//
//	go test ./handler/blobstore -run '^$' -bench Upload25MiB -benchtime 10x
func BenchmarkUpload25MiB(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	data := randomFile(file25MiB, 3)
	client := &uploadclient.Client{Concurrency: 4}
	container := e.raw.ServiceClient().NewContainerClient(landing)

	sides := map[string]func(i int) (blobName string, err error){
		"plan-client": func(int) (string, error) {
			plan, err := e.svc.Create(ctx, alice, profileID, []upload.FileSpec{{Name: "bench.pdf", ContentType: "application/pdf", Size: file25MiB}})
			if err != nil {
				return "", err
			}
			fp := toClientPlan(plan.Files[0])
			return plan.Files[0].UploadURL, client.Upload(ctx, fp, bytes.NewReader(data), nil)
		},
		"azblob-UploadStream": func(i int) (string, error) {
			name := fmt.Sprintf("bench/stream-%d", i)
			_, err := container.NewBlockBlobClient(name).UploadStream(ctx, bytes.NewReader(data), &blockblob.UploadStreamOptions{BlockSize: blockSize4, Concurrency: 4})
			return name, err
		},
		"azblob-UploadBuffer-1shot": func(i int) (string, error) {
			name := fmt.Sprintf("bench/buffer-%d", i)
			_, err := container.NewBlockBlobClient(name).UploadBuffer(ctx, data, &blockblob.UploadBufferOptions{Concurrency: 4})
			return name, err
		},
	}
	elapsed := map[string]time.Duration{}
	count := map[string]int{}
	run := func(name string) {
		up := sides[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(file25MiB)
			i := 0
			for b.Loop() {
				start := time.Now()
				blobName, err := up(i)
				if err != nil {
					b.Fatal(err)
				}
				elapsed[name] += time.Since(start)
				count[name]++
				i++
				b.StopTimer()
				if name == "plan-client" {
					blobName = blobNameOf(b, blobName)
				}
				if _, err := container.NewBlobClient(blobName).Delete(ctx, nil); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
	for _, n := range []string{"plan-client", "azblob-UploadStream", "azblob-UploadBuffer-1shot", "azblob-UploadBuffer-1shot", "azblob-UploadStream", "plan-client"} {
		run(n)
	}
	mbps := func(n string) float64 {
		return float64(file25MiB) * float64(count[n]) / elapsed[n].Seconds() / 1e6
	}
	if count["plan-client"] > 0 && count["azblob-UploadStream"] > 0 && count["azblob-UploadBuffer-1shot"] > 0 {
		b.Logf("MB/s over all rounds: plan-client %.1f, azblob UploadStream %.1f, azblob UploadBuffer (1 shot) %.1f; ratio plan/UploadStream %.2f, plan/UploadBuffer %.2f",
			mbps("plan-client"), mbps("azblob-UploadStream"), mbps("azblob-UploadBuffer-1shot"),
			mbps("plan-client")/mbps("azblob-UploadStream"), mbps("plan-client")/mbps("azblob-UploadBuffer-1shot"))
	}
}
