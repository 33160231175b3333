// Key Vault (RBAC authorization) holding the Twilio auth token and the MFA
// token signing key; the app reads them through Key Vault references.
// Secrets are written through the control plane (this module), so the vault
// can stay closed to public networks.
@description('Required. Vault name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}
@description('Required. Principal id of the app\'s managed identity.')
param appPrincipalId string
@description('Optional. Object id of the deployer; empty = none.')
param deployerPrincipalId string = ''
@allowed(['User', 'ServicePrincipal'])
@description('Optional. Kind of the deployer principal.')
param deployerPrincipalType string = 'User'
@secure()
@description('Optional. Twilio auth token; empty = leave the secret as it is.')
param twilioAuthToken string = ''
@secure()
@description('Optional. MFA token signing key (base64, at least 32 bytes); empty = leave the secret as it is.')
param mfaTokenKey string = ''
@description('Required. Subnet of the private endpoint.')
param privateEndpointSubnetId string
@description('Required. Private DNS zone privatelink.vaultcore.azure.net.')
param dnsZoneId string

// Key Vault Secrets User: read secret values (Key Vault references)
var secretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
// Key Vault Secrets Officer: the deployer manages the secrets
var secretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Disabled'
    networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices' }
  }
}

resource twilioSecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (!empty(twilioAuthToken)) {
  parent: vault
  name: 'twilio-auth-token'
  properties: { value: twilioAuthToken }
}

resource mfaSecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (!empty(mfaTokenKey)) {
  parent: vault
  name: 'mfa-token-key'
  properties: { value: mfaTokenKey }
}

resource appReads 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, appPrincipalId, secretsUser)
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
  }
}

resource deployerManages 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  scope: vault
  name: guid(vault.id, deployerPrincipalId, secretsOfficer)
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficer)
  }
}

module endpoint 'private-endpoint.bicep' = {
  name: 'pe-${name}'
  params: {
    name: 'pe-${name}'
    location: location
    tags: tags
    subnetId: privateEndpointSubnetId
    serviceId: vault.id
    groupId: 'vault'
    dnsZoneId: dnsZoneId
  }
}

output name string = vault.name
output secretNames object = {
  twilioAuthToken: 'twilio-auth-token'
  mfaTokenKey: 'mfa-token-key'
}
