// One upload shard: a storage account with the incoming (SAS target),
// landing (pinned copies, watched by the blob trigger), clean and quarantine
// containers, blob CORS for the UI origin, lifecycle rules, and the Event Grid
// system topic whose subscription drives the ScanAttachment blob trigger.
// Browsers upload with user delegation SAS, so shared keys stay off while the
// public endpoint stays on. The app reaches it over the Microsoft.Storage
// service endpoint of its subnet: a private endpoint would add no isolation
// to an account open to browsers, and bills every byte the scans read
// (docs/deploy.md).
@description('Required. Account name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}
@description('Required. Origin allowed by blob CORS (the web UI).')
param corsOrigin string
@description('Required. Principal id of the app\'s managed identity.')
param principalId string
@description('Required. Resource id of the app\'s managed identity (Event Grid dead-lettering).')
param identityId string
@description('Optional. Days a quarantined document is kept.')
param quarantineRetentionDays int = 90
@description('Optional. Days after which a clean document moves to the cool tier.')
param cleanCoolAfterDays int = 30
@description('Optional. Days a pinned copy stays in landing (scanned within minutes; kept for re-drives).')
param landingDeleteAfterDays int = 7
@description('Optional. Days an uploaded block blob stays in incoming (an upload session lasts at most 30 minutes).')
param incomingDeleteAfterDays int = 1
@description('Required. Storage account of the Event Grid dead-letter container.')
param deadLetterAccountId string
@description('Optional. Dead-letter container in that account.')
param deadLetterContainer string = 'eventgrid-deadletter'
@description('Required. Function serving this shard\'s landing container.')
param scanFunctionName string
@description('Required. Host name of the function app.')
param functionAppHostName string
@secure()
@description('Optional. blobs_extension system key of the function app; the Event Grid subscription is created only when given.')
param blobsExtensionKey string = ''

// The containers' names are the defaults of UPLOAD_CONTAINER_INCOMING,
// _LANDING, _CLEAN and _QUARANTINE.
var containerNames = {
  incoming: 'incoming'
  landing: 'landing'
  clean: 'clean'
  quarantine: 'quarantine'
}

var roles = [
  // Storage Blob Data Owner: the blob trigger's identity-based connection requires Owner (Functions blob trigger docs); the handler writes landing/clean/quarantine and signs user delegation SAS
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Storage Queue Data Contributor: the blob trigger's poison-blob queue on its connection's account
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
    publicNetworkAccess: 'Enabled'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
  properties: {
    // The same rule dev/local sets on Azurite (blobstore.SetCORS).
    cors: {
      corsRules: [
        {
          allowedOrigins: [corsOrigin]
          allowedMethods: ['PUT', 'GET', 'HEAD', 'OPTIONS']
          allowedHeaders: ['*']
          exposedHeaders: ['ETag', 'Content-MD5', 'Content-Length', 'Date', 'x-ms-*']
          maxAgeInSeconds: 600
        }
      ]
    }
    deleteRetentionPolicy: { enabled: true, days: 7 }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = [for c in items(containerNames): {
  parent: blobService
  name: c.value
  properties: { publicAccess: 'None' }
}]

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2024-01-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'incoming-delete'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'], prefixMatch: ['${containerNames.incoming}/'] }
            actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: incomingDeleteAfterDays } } }
          }
        }
        {
          name: 'landing-delete'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'], prefixMatch: ['${containerNames.landing}/'] }
            actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: landingDeleteAfterDays } } }
          }
        }
        {
          name: 'quarantine-retention'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'], prefixMatch: ['${containerNames.quarantine}/'] }
            actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: quarantineRetentionDays } } }
          }
        }
        {
          name: 'clean-to-cool'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'], prefixMatch: ['${containerNames.clean}/'] }
            actions: { baseBlob: { tierToCool: { daysAfterModificationGreaterThan: cleanCoolAfterDays } } }
          }
        }
      ]
    }
  }
  dependsOn: [containers]
}

resource roleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in roles: {
  scope: account
  name: guid(account.id, principalId, role)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: 'evgt-${name}'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// Flex Consumption runs blob triggers only from Event Grid: BlobCreated in
// landing goes to the host's blobs webhook of this shard's function.
resource scanSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (!empty(blobsExtensionKey)) {
  parent: topic
  name: 'landing-to-${toLower(scanFunctionName)}'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${functionAppHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${scanFunctionName}&code=${blobsExtensionKey}'
        maxEventsPerBatch: 1
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/${containerNames.landing}/'
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: identityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterAccountId
          blobContainerName: deadLetterContainer
        }
      }
    }
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output containerNames object = containerNames
