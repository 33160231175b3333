// profileflow: the whole system in one subscription-scope deployment (azd up).
// Creates the resource group and calls one module per concern; every name is
// derived from the environment name so a second deployment of the same
// environment updates rather than duplicates (see docs/deploy.md).
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('Required. azd environment name; prefix of the resource group and source of the resource token.')
param environmentName string

@minLength(1)
@description('Required. Azure region of every resource.')
param location string

@description('Optional. Object id of the deploying user or pipeline; gets Key Vault Secrets Officer (the secrets it sets) and Storage Blob Data Contributor on the web account (publishing the UI). Empty = none.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal'])
@description('Optional. Kind of principalId: a user (azd up from a workstation) or a pipeline\'s service principal.')
param principalType string = 'User'

@minValue(1)
@maxValue(64)
@description('Optional. Number of upload shard storage accounts (each with incoming, landing, clean and quarantine). See docs/deploy.md for the count at full load.')
param uploadShardCount int = 1

@description('Optional. Origin of the web UI allowed by blob CORS and the API (e.g. https://profiles.example.com). Empty = the static website of this deployment.')
param uiOrigin string = ''

@description('Optional. OpenID Connect issuer of bearer tokens. Empty = this tenant\'s Entra ID v2.0 issuer.')
param oidcIssuerUrl string = ''

@description('Required. Expected aud claim of bearer tokens: the API app registration\'s application ID URI or client id.')
param oidcAudience string

@description('Required. Twilio account SID (AC…).')
param twilioAccountSid string

@description('Required. Twilio Verify v2 service SID (VA…).')
param twilioVerifyServiceSid string

@description('Optional. E.164 sender number of notification SMS.')
param twilioFromNumber string = ''

@secure()
@description('Optional. Twilio auth token; stored as Key Vault secret twilio-auth-token when given (an empty value leaves an existing secret alone).')
param twilioAuthToken string = ''

@secure()
@description('Optional. Base64 HMAC key (at least 32 bytes) signing MFA tokens; stored as Key Vault secret mfa-token-key when given (an empty value leaves an existing secret alone).')
param mfaTokenKey string = ''

@description('Optional. Where approval notices go: comma-separated group=+E.164 pairs.')
param notifyGroupPhones string = ''

@allowed(['Serverless', 'Autoscale'])
@description('Optional. Cosmos DB capacity: Serverless (pay per RU, up to 5,000 RU/s per physical partition) or Autoscale (shared database throughput).')
param cosmosCapacityMode string = 'Serverless'

@minValue(1000)
@description('Optional. Autoscale maximum RU/s of the database (Autoscale mode only); scales between 10 % and 100 % of it.')
param cosmosAutoscaleMaxThroughput int = 4000

@allowed(['Standard', 'Premium'])
@description('Optional. Service Bus tier. Premium adds private endpoints, messaging units and partitions.')
param serviceBusSku string = 'Standard'

@allowed([1, 2, 4, 8, 16])
@description('Optional. Premium messaging units.')
param serviceBusCapacity int = 1

@allowed([1, 2, 4])
@description('Optional. Premium messaging partitions (fixed at creation).')
param serviceBusPartitions int = 1

@minValue(40)
@maxValue(1000)
@description('Optional. Flex Consumption maximum instance count of the function app.')
param maximumInstanceCount int = 100

@allowed([512, 2048, 4096])
@description('Optional. Flex Consumption instance memory in MB.')
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(30)
@description('Optional. Minimum ClamAV replicas (each keeps the signature database in memory).')
param clamavMinReplicas int = 1

@minValue(1)
@maxValue(30)
@description('Optional. Maximum ClamAV replicas.')
param clamavMaxReplicas int = 3

@description('Optional. ClamAV image; the official image runs freshclam for signature updates.')
param clamavImage string = 'docker.io/clamav/clamav:1.4'

@minValue(1)
@description('Optional. Days a quarantined document is kept.')
param quarantineRetentionDays int = 90

@minValue(1)
@description('Optional. Days after which a clean document moves to the cool tier.')
param cleanCoolAfterDays int = 30

@description('Optional. Deploy API Management (Consumption) in front of the function app, importing openapi.yaml.')
param enableApiManagement bool = false

@description('Optional. API Management publisher e-mail (required with enableApiManagement).')
param apiManagementPublisherEmail string = ''

@description('Optional. E-mail address of the alert action group. Empty = alerts without a notification target.')
param alertEmail string = ''

@secure()
@description('Optional. System key blobs_extension of the function app; creates the Event Grid subscriptions of the blob trigger when given (set by the postdeploy hook).')
param blobsExtensionKey string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var appName = 'func-${resourceToken}'
var issuer = empty(oidcIssuerUrl) ? '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0' : oidcIssuerUrl
// Upload shard account names, fixed by index so UPLOAD_ACCOUNTS keeps its order.
var uploadAccountNames = [for i in range(0, uploadShardCount): 'stup${padLeft(i, 2, '0')}${resourceToken}']
var webAccountName = 'stweb${resourceToken}'
// The static website's origin (primary web endpoint without its final slash).
var staticWebsiteOrigin = web.outputs.webOrigin
var corsOrigin = empty(uiOrigin) ? staticWebsiteOrigin : uiOrigin

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    resourceToken: resourceToken
    location: location
    tags: tags
  }
}

module network 'modules/network.bicep' = {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-${resourceToken}'
    location: location
    tags: tags
  }
}

module hostStorage 'modules/storage-host.bicep' = {
  name: 'storage-host'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    blobDnsZoneId: network.outputs.dnsZoneIds.blob
    queueDnsZoneId: network.outputs.dnsZoneIds.queue
  }
}

module uploadShards 'modules/storage-upload.bicep' = [for (name, i) in uploadAccountNames: {
  name: 'storage-upload-${i}'
  scope: rg
  params: {
    name: name
    location: location
    tags: tags
    corsOrigin: corsOrigin
    principalId: identity.outputs.principalId
    quarantineRetentionDays: quarantineRetentionDays
    cleanCoolAfterDays: cleanCoolAfterDays
    identityId: identity.outputs.id
    deadLetterAccountId: hostStorage.outputs.id
    // Shard 0 is served by functions/ScanAttachment; shard i > 0 by a copy
    // named ScanAttachment<i> whose trigger names connection UploadStorage<i>.
    scanFunctionName: i == 0 ? 'ScanAttachment' : 'ScanAttachment${i}'
    functionAppHostName: '${appName}.azurewebsites.net'
    blobsExtensionKey: blobsExtensionKey
  }
}]

module web 'modules/storage-web.bicep' = {
  name: 'storage-web'
  scope: rg
  params: {
    name: webAccountName
    location: location
    tags: tags
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: 'cosmos-${resourceToken}'
    location: location
    tags: tags
    capacityMode: cosmosCapacityMode
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    principalId: identity.outputs.principalId
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    dnsZoneId: network.outputs.dnsZoneIds.cosmos
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: 'sb-${resourceToken}'
    location: location
    tags: tags
    sku: serviceBusSku
    capacity: serviceBusCapacity
    partitions: serviceBusPartitions
    principalId: identity.outputs.principalId
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    dnsZoneId: network.outputs.dnsZoneIds.serviceBus
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    twilioAuthToken: twilioAuthToken
    mfaTokenKey: mfaTokenKey
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    dnsZoneId: network.outputs.dnsZoneIds.keyVault
  }
}

module clamav 'modules/clamav.bicep' = {
  name: 'clamav'
  scope: rg
  params: {
    resourceToken: resourceToken
    location: location
    tags: tags
    image: clamavImage
    minReplicas: clamavMinReplicas
    maxReplicas: clamavMaxReplicas
    subnetId: network.outputs.containerAppsSubnetId
    vnetId: network.outputs.vnetId
    logAnalyticsWorkspaceName: monitoring.outputs.logAnalyticsWorkspaceName
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: appName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityPrincipalId: identity.outputs.principalId
    hostStorageName: hostStorage.outputs.name
    deploymentContainerUrl: hostStorage.outputs.deploymentContainerUrl
    uploadAccountNames: uploadAccountNames
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    appInsightsId: monitoring.outputs.appInsightsId
    appSubnetId: network.outputs.appSubnetId
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    corsOrigin: corsOrigin
    oidcIssuerUrl: issuer
    oidcAudience: oidcAudience
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabase: cosmos.outputs.databaseName
    serviceBusNamespaceFqdn: serviceBus.outputs.fullyQualifiedNamespace
    keyVaultName: keyVault.outputs.name
    twilioAccountSid: twilioAccountSid
    twilioVerifyServiceSid: twilioVerifyServiceSid
    twilioFromNumber: twilioFromNumber
    notifyGroupPhones: notifyGroupPhones
    clamavAddress: clamav.outputs.address
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    resourceToken: resourceToken
    tags: tags
    alertEmail: alertEmail
    serviceBusNamespaceId: serviceBus.outputs.id
    queueNames: serviceBus.outputs.queueNames
    appInsightsId: monitoring.outputs.appInsightsId
    location: location
  }
}

module apim 'modules/apim.bicep' = if (enableApiManagement) {
  name: 'apim'
  scope: rg
  params: {
    name: 'apim-${resourceToken}'
    location: location
    tags: tags
    publisherEmail: apiManagementPublisherEmail
    backendUrl: 'https://${functionApp.outputs.defaultHostName}/api'
  }
}

// Outputs in UPPER_SNAKE flow into the azd environment (read by the hooks).
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
output WEB_STORAGE_ACCOUNT string = webAccountName
output WEB_ORIGIN string = staticWebsiteOrigin
output UPLOAD_ACCOUNT_NAMES array = uploadAccountNames
output KEY_VAULT_NAME string = keyVault.outputs.name
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output SERVICE_BUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output CLAMAV_ADDRESS string = clamav.outputs.address
output APIM_GATEWAY_URL string = enableApiManagement ? apim.outputs.gatewayUrl : ''
