package local

import (
	"context"
	"fmt"

	"github.com/profileflow/profileflow/handler/blobstore"
)

// prepareBlobs creates the incoming, landing, clean and quarantine containers in
// Azurite and sets its blob CORS rule for the development host's origin
// (where a browser client is served from), as Bicep does in Azure.
func (s *System) prepareBlobs(ctx context.Context, env map[string]string) error {
	store, err := blobstore.New(blobstore.Options{Accounts: []string{s.Azurite.BlobURL}, AccountKey: s.Azurite.AccountKey})
	if err != nil {
		return err
	}
	if err := store.EnsureContainers(ctx, UploadContainers(env)...); err != nil {
		return fmt.Errorf("azurite containers: %w", err)
	}
	if err := store.SetCORS(ctx, s.URL); err != nil {
		return fmt.Errorf("azurite CORS: %w", err)
	}
	return nil
}

// UploadContainers names the blob containers of every upload account, from
// the settings in env: incoming, landing, clean and quarantine. The Bicep
// upload shards declare the same containers; a test in dev/infracheck
// compares them.
func UploadContainers(env map[string]string) []string {
	return []string{env["UPLOAD_CONTAINER_INCOMING"], env["UPLOAD_CONTAINER_LANDING"], env["UPLOAD_CONTAINER_CLEAN"], env["UPLOAD_CONTAINER_QUARANTINE"]}
}
