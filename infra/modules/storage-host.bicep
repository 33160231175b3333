// The Functions host's storage account (AzureWebJobsStorage): host locks,
// timer schedules, blob trigger receipts, the Flex deployment package and
// the Event Grid dead-letter container. The app reaches it through private
// endpoints with its identity (no shared keys).
@description('Required. Account name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}
@description('Required. Principal id of the app\'s managed identity.')
param principalId string
@description('Required. Subnet of the private endpoints.')
param privateEndpointSubnetId string
@description('Required. Private DNS zone of blob endpoints.')
param blobDnsZoneId string
@description('Required. Private DNS zone of queue endpoints.')
param queueDnsZoneId string

var deploymentContainer = 'deploymentpackage'
var deadLetterContainer = 'eventgrid-deadletter'

var roles = [
  // Storage Blob Data Owner: the host's locks, receipts and the deployment package (Functions identity-based AzureWebJobsStorage)
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Storage Queue Data Contributor: the blob trigger's and host's queues
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
]

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
    // Selected networks only: no network rule admits anyone, so the app uses
    // the private endpoints and only trusted services with a managed identity
    // (Event Grid dead-lettering) pass; 'Disabled' would block those too.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = [for c in [deploymentContainer, deadLetterContainer]: {
  parent: blobService
  name: c
  properties: { publicAccess: 'None' }
}]

resource roleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in roles: {
  scope: account
  name: guid(account.id, principalId, role)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

module blobEndpoint 'private-endpoint.bicep' = {
  name: 'pe-${name}-blob'
  params: {
    name: 'pe-${name}-blob'
    location: location
    tags: tags
    subnetId: privateEndpointSubnetId
    serviceId: account.id
    groupId: 'blob'
    dnsZoneId: blobDnsZoneId
  }
}

module queueEndpoint 'private-endpoint.bicep' = {
  name: 'pe-${name}-queue'
  params: {
    name: 'pe-${name}-queue'
    location: location
    tags: tags
    subnetId: privateEndpointSubnetId
    serviceId: account.id
    groupId: 'queue'
    dnsZoneId: queueDnsZoneId
  }
}

output id string = account.id
output name string = account.name
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainer}'
output deadLetterContainer string = deadLetterContainer
