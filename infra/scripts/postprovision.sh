#!/bin/sh
# azd postprovision hook: deploy the handler package, publish the UI, and
# create the blob trigger's Event Grid subscriptions once the app has its
# blobs_extension key. Needs az (logged in) and the azd environment values
# (AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME, WEB_STORAGE_ACCOUNT).
# Safe to run twice: each step replaces what it made before.
set -eu

: "${AZURE_RESOURCE_GROUP:?run through azd (azd up / azd provision)}"
: "${AZURE_FUNCTION_APP_NAME:?}"
: "${WEB_STORAGE_ACCOUNT:?}"

echo "== building the linux/amd64 package (make dist)"
make dist

echo "== deploying build/dist/profileflow.zip to $AZURE_FUNCTION_APP_NAME"
az functionapp deployment source config-zip \
  --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
  --src build/dist/profileflow.zip

echo "== static website on $WEB_STORAGE_ACCOUNT"
az storage blob service-properties update --auth-mode login \
  --account-name "$WEB_STORAGE_ACCOUNT" --static-website \
  --index-document index.html --404-document index.html >/dev/null
if [ -d web ]; then
  az storage blob upload-batch --auth-mode login --account-name "$WEB_STORAGE_ACCOUNT" \
    --destination '$web' --source web --overwrite >/dev/null
fi

# The blob trigger's webhook needs the host's blobs_extension system key,
# which exists once the host has started with the trigger deployed.
key=""
tries=0
while [ -z "$key" ] && [ "$tries" -lt 30 ]; do
  key=$(az functionapp keys list --resource-group "$AZURE_RESOURCE_GROUP" \
    --name "$AZURE_FUNCTION_APP_NAME" --query "systemKeys.blobs_extension" -o tsv 2>/dev/null || true)
  [ -n "$key" ] || { tries=$((tries + 1)); sleep 10; }
done
if [ -z "$key" ]; then
  echo "blobs_extension key not available after 5 minutes; run 'azd provision' again later" >&2
  exit 1
fi
if [ "${BLOBS_EXTENSION_KEY:-}" != "$key" ]; then
  echo "== creating the Event Grid subscriptions (second provision with the key)"
  azd env set BLOBS_EXTENSION_KEY "$key"
  # The second run finds the key equal and stops here.
  azd provision --no-prompt
fi
echo "== done: API at ${API_BASE_URL:-?}, UI at ${WEB_ORIGIN:-?}"
