// The function app: Flex Consumption, custom handler runtime, the
// user-assigned identity for every connection, VNet integration, and one app
// setting for every setting the handler reads (handler/config) that is not
// local-only, plus the identity-based connections the Functions host reads.
@description('Required. App name.')
param name string
@description('Required. Flex Consumption plan name.')
param planName string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}
@description('Required. Resource id of the user-assigned identity.')
param identityId string
@description('Required. Client id of the user-assigned identity.')
param identityClientId string
@description('Required. Principal id of the user-assigned identity.')
param identityPrincipalId string
@description('Required. Host storage account (AzureWebJobsStorage).')
param hostStorageName string
@description('Required. Blob container URL of the Flex deployment package.')
param deploymentContainerUrl string
@description('Required. Upload shard account names, in UPLOAD_ACCOUNTS order.')
param uploadAccountNames array
@description('Required. Application Insights connection string.')
param appInsightsConnectionString string
@description('Required. Application Insights resource id.')
param appInsightsId string
@description('Required. Integration subnet.')
param appSubnetId string
@description('Optional. Maximum instances.')
param maximumInstanceCount int = 100
@description('Optional. Instance memory in MB.')
param instanceMemoryMB int = 2048
@description('Optional. Concurrent HTTP requests per instance (host.json allows 100).')
param httpPerInstanceConcurrency int = 100
@description('Required. Origin of the web UI (API CORS).')
param corsOrigin string
@description('Required. OIDC issuer URL.')
param oidcIssuerUrl string
@description('Required. OIDC audience.')
param oidcAudience string
@description('Required. Cosmos DB endpoint.')
param cosmosEndpoint string
@description('Required. Cosmos DB database.')
param cosmosDatabase string
@description('Required. Service Bus namespace host name.')
param serviceBusNamespaceFqdn string
@description('Required. Key Vault of the secrets.')
param keyVaultName string
@description('Required. Twilio account SID.')
param twilioAccountSid string
@description('Required. Twilio Verify service SID.')
param twilioVerifyServiceSid string
@description('Optional. Twilio sender number.')
param twilioFromNumber string = ''
@description('Optional. Notice phone numbers by group.')
param notifyGroupPhones string = ''
@description('Required. host:port of clamd.')
param clamavAddress string

var blobSuffix = 'blob.${environment().suffixes.storage}'
var queueSuffix = 'queue.${environment().suffixes.storage}'
var uploadAccountUrls = [for n in uploadAccountNames: 'https://${n}.${blobSuffix}']

func keyVaultReference(vault string, secret string) string => '@Microsoft.KeyVault(VaultName=${vault};SecretName=${secret})'

// Every setting of handler/config that is deployed, and the host's
// connections. The handler's defaults are repeated literally so the
// deployment states them; a test compares both.
var appSettings = {
  PROFILEFLOW_LOG_LEVEL: 'info'
  OIDC_ISSUER_URL: oidcIssuerUrl
  OIDC_AUDIENCE: oidcAudience
  COSMOS_ENDPOINT: cosmosEndpoint
  COSMOS_DATABASE: cosmosDatabase
  COSMOS_CONTAINER_PROFILES: 'profiles'
  COSMOS_CONTAINER_REQUESTS: 'requests'
  COSMOS_CONTAINER_UPLOADS: 'uploads'
  COSMOS_CONTAINER_MFA: 'mfa'
  COSMOS_CONTAINER_IDEMPOTENCY: 'idempotency'
  TWILIO_ACCOUNT_SID: twilioAccountSid
  TWILIO_AUTH_TOKEN: keyVaultReference(keyVaultName, 'twilio-auth-token')
  TWILIO_VERIFY_SERVICE_SID: twilioVerifyServiceSid
  TWILIO_FROM_NUMBER: twilioFromNumber
  TWILIO_TIMEOUT: '10s'
  MFA_TOKEN_KEY: keyVaultReference(keyVaultName, 'mfa-token-key')
  MFA_TOKEN_TTL: '10m'
  MFA_MAX_SENDS_PER_HOUR: '5'
  MFA_MAX_FAILED_CHECKS: '10'
  WORKFLOW_DEFINITION: 'workflows/profile-update.bpmn'
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusNamespaceFqdn
  ServiceBusConnection__clientId: identityClientId
  ServiceBusConnection__credential: 'managedidentity'
  NOTIFY_GROUP_PHONES: notifyGroupPhones
  UPLOAD_ACCOUNTS: join(uploadAccountUrls, ',')
  UPLOAD_CONTAINER_INCOMING: 'incoming'
  UPLOAD_CONTAINER_LANDING: 'landing'
  UPLOAD_CONTAINER_CLEAN: 'clean'
  UPLOAD_CONTAINER_QUARANTINE: 'quarantine'
  SCAN_ENGINE: 'clamav'
  CLAMAV_ADDRESS: clamavAddress
  CLAMAV_TIMEOUT: '60s'
  UPLOAD_SAS_TTL: '30m'
  UPLOAD_BLOCK_SIZE: '4194304'
  SWEEP_BATCH: '200'
  SWEEP_QUIET: '2m'
  SWEEP_ATTENTION_FALLBACK_AFTER: '1h'
  SWEEP_SCAN_REDRIVE_AFTER: '30m'
  SWEEP_SCAN_FAIL_AFTER: '2h'
  SWEEP_TIMER_GRACE: '10m'
  SWEEP_UPLOAD_DELETE_AFTER: '1h'

  AzureWebJobsStorage__accountName: hostStorageName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  UploadStorage__blobServiceUri: 'https://${uploadAccountNames[0]}.${blobSuffix}'
  UploadStorage__queueServiceUri: 'https://${uploadAccountNames[0]}.${queueSuffix}'
  UploadStorage__credential: 'managedidentity'
  UploadStorage__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// Shard i > 0 is watched by functions/ScanAttachment<i>, whose trigger names
// connection UploadStorage<i>.
var shardConnections = reduce(range(1, length(uploadAccountNames) - 1), {}, (acc, i) => union(acc, {
  'UploadStorage${i}__blobServiceUri': 'https://${uploadAccountNames[i]}.${blobSuffix}'
  'UploadStorage${i}__queueServiceUri': 'https://${uploadAccountNames[i]}.${queueSuffix}'
  'UploadStorage${i}__credential': 'managedidentity'
  'UploadStorage${i}__clientId': identityClientId
}))

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: appSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      cors: { allowedOrigins: [corsOrigin], supportCredentials: false }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      runtime: { name: 'custom', version: '1.0' }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        triggers: { http: { perInstanceConcurrency: httpPerInstanceConcurrency } }
      }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(appSettings, shardConnections)
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: last(split(appInsightsId, '/'))
}

// Monitoring Metrics Publisher: telemetry with Entra ID auth (local auth is off)
resource publishes 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: appInsights
  name: guid(appInsightsId, identityPrincipalId, '3913510d-42f4-4e42-8a64-420c390055eb')
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
