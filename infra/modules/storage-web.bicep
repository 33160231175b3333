// The storage account whose static website ($web) serves the browser UI.
// Static website hosting is a data-plane setting that ARM cannot set; the
// postprovision hook enables it (docs/deploy.md).
@description('Required. Account name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
  }
}

var webEndpoint = account.properties.primaryEndpoints.web

output name string = account.name
output webOrigin string = endsWith(webEndpoint, '/') ? substring(webEndpoint, 0, length(webEndpoint) - 1) : webEndpoint
