package servicebus

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The functions listen where this adapter sends, through the setting it
// reads, and the local peer's topology serves those queues.
func TestFunctionsListenOnTheQueues(t *testing.T) {
	for fn, queue := range map[string]string{
		"WorkflowStep":       WorkflowQueue,
		"WorkflowDeadLetter": WorkflowQueue + "/$deadletterqueue",
		"Notify":             NotificationsQueue,
	} {
		b, err := os.ReadFile(filepath.Join("..", "..", "functions", fn, "function.json"))
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Bindings []struct{ Type, QueueName, Connection string }
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		if len(f.Bindings) != 1 || f.Bindings[0].Type != "serviceBusTrigger" || f.Bindings[0].QueueName != queue || f.Bindings[0].Connection != "ServiceBusConnection" {
			t.Errorf("%s: %+v, want a serviceBusTrigger on %s through ServiceBusConnection", fn, f.Bindings, queue)
		}
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "dev", "sbpeer", "topology.json"))
	if err != nil {
		t.Fatal(err)
	}
	var topo struct{ Queues map[string]json.RawMessage }
	if err := json.Unmarshal(b, &topo); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{WorkflowQueue, NotificationsQueue} {
		if _, ok := topo.Queues[q]; !ok {
			t.Errorf("the local peer's topology has no queue %s", q)
		}
	}
}
