// The storage account whose static website ($web) serves the browser UI.
// Static website hosting is a data-plane setting that ARM cannot set; the
// postprovision hook enables it (docs/deploy.md).
@description('Required. Account name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}
@description('Optional. Object id of the deployer, who publishes the UI; empty = none.')
param deployerPrincipalId string = ''
@allowed(['User', 'ServicePrincipal'])
@description('Optional. Kind of the deployer principal.')
param deployerPrincipalType string = 'User'

// Storage Blob Data Contributor: the deployer uploads web/ to $web
var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

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

resource deployerPublishes 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  scope: account
  name: guid(account.id, deployerPrincipalId, blobDataContributor)
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
  }
}

var webEndpoint = account.properties.primaryEndpoints.web

output name string = account.name
output webOrigin string = endsWith(webEndpoint, '/') ? substring(webEndpoint, 0, length(webEndpoint) - 1) : webEndpoint
