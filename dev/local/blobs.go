package local

import (
	"context"
	"fmt"

	"github.com/profileflow/profileflow/handler/blobstore"
)

// UIOrigin is the origin of the UI and API served by `make run`.
const UIOrigin = "http://127.0.0.1:7071"

func init() { extraSteps = append(extraSteps, prepareBlobs) }

// prepareBlobs creates the landing, clean and quarantine containers in
// Azurite and sets its blob CORS rule for the UI origin (and the test host's
// own origin), as Bicep does in Azure.
func prepareBlobs(ctx context.Context, sys *System, env map[string]string, o Options) error {
	store, err := blobstore.New(blobstore.Options{Accounts: []string{sys.Azurite.BlobURL}, AccountKey: sys.Azurite.AccountKey})
	if err != nil {
		return err
	}
	if err := store.EnsureContainers(ctx, env["UPLOAD_CONTAINER_LANDING"], env["UPLOAD_CONTAINER_CLEAN"], env["UPLOAD_CONTAINER_QUARANTINE"]); err != nil {
		return fmt.Errorf("azurite containers: %w", err)
	}
	origins := []string{UIOrigin}
	if sys.URL != UIOrigin {
		origins = append(origins, sys.URL)
	}
	if err := store.SetCORS(ctx, origins...); err != nil {
		return fmt.Errorf("azurite CORS: %w", err)
	}
	return nil
}
