package main

import (
	"log/slog"

	"github.com/profileflow/profileflow/handler/blobstore"
	"github.com/profileflow/profileflow/handler/config"
	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/upload"
)

// wireUploads builds direct-to-blob uploads: the blob adapter over
// the UPLOAD_ACCOUNTS shards (account-key SAS when UPLOAD_ACCOUNT_KEY is set,
// i.e. Azurite; user delegation SAS through the managed identity otherwise),
// the Cosmos uploads container for sessions, and the upload service. A
// missing or bad setting stops start-up naming it. No network call happens
// here.
func wireUploads(cfg *config.Config, cosmos *cosmosdb.Client, log *slog.Logger) (*upload.Service, *blobstore.Store, error) {
	accounts := cfg.List("UPLOAD_ACCOUNTS")
	ttl, err := cfg.Duration("UPLOAD_SAS_TTL")
	if err != nil {
		return nil, nil, err
	}
	blockSize, err := cfg.Int("UPLOAD_BLOCK_SIZE")
	if err != nil {
		return nil, nil, err
	}
	blobs, err := blobstore.New(blobstore.Options{Accounts: accounts, AccountKey: cfg.String("UPLOAD_ACCOUNT_KEY")})
	if err != nil {
		return nil, nil, err
	}
	sessions := stores.NewUploads(cosmos.Container(cfg.String("COSMOS_DATABASE"), cfg.String("COSMOS_CONTAINER_UPLOADS")))
	svc, err := upload.NewService(sessions, blobs, blobs, upload.Config{
		Accounts:  accounts,
		Container: cfg.String("UPLOAD_CONTAINER_INCOMING"),
		BlockSize: int64(blockSize),
		TTL:       ttl,
	})
	if err != nil {
		return nil, nil, err
	}
	return svc, blobs, nil
}
