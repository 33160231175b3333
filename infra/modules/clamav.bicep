// The antivirus engine: clamd in a Container Apps environment inside the
// VNet (internal only), reached by the handler over TCP 3310 (INSTREAM).
// The official image runs freshclam next to clamd, so signatures update
// themselves; each replica keeps the whole database in memory (about
// 1.5 GB), hence 2 vCPU / 4 GiB.
@description('Required. Resource token of the environment.')
param resourceToken string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}
@description('Required. Image with clamd and freshclam.')
param image string
@description('Optional. Minimum replicas; at least 1 keeps signatures loaded.')
param minReplicas int = 1
@description('Optional. Maximum replicas.')
param maxReplicas int = 3
@description('Optional. Concurrent scans one replica serves before another is added (clamd MaxThreads is 10).')
param concurrentScansPerReplica int = 8
@description('Required. Delegated subnet of the environment.')
param subnetId string
@description('Required. VNet of the private DNS zone of the environment.')
param vnetId string
@description('Required. Log Analytics workspace of the environment\'s logs.')
param logAnalyticsWorkspaceName string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsWorkspaceName
}

resource managedEnvironment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: 'cae-${resourceToken}'
  location: location
  tags: tags
  properties: {
    vnetConfiguration: {
      infrastructureSubnetId: subnetId
      internal: true
    }
    workloadProfiles: [{ name: 'Consumption', workloadProfileType: 'Consumption' }]
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
  }
}

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: 'ca-clamav-${resourceToken}'
  location: location
  tags: tags
  properties: {
    environmentId: managedEnvironment.id
    workloadProfileName: 'Consumption'
    configuration: {
      ingress: {
        external: false
        transport: 'tcp'
        targetPort: 3310
        exposedPort: 3310
      }
    }
    template: {
      containers: [
        {
          name: 'clamav'
          image: image
          resources: { cpu: json('2.0'), memory: '4Gi' }
          probes: [
            {
              type: 'Readiness'
              tcpSocket: { port: 3310 }
              initialDelaySeconds: 60
              periodSeconds: 10
            }
            {
              type: 'Liveness'
              tcpSocket: { port: 3310 }
              initialDelaySeconds: 240
              periodSeconds: 30
            }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'concurrent-scans'
            tcp: { metadata: { concurrentConnections: string(concurrentScansPerReplica) } }
          }
        ]
      }
    }
  }
}

module dns 'clamav-dns.bicep' = {
  name: 'clamav-dns'
  params: {
    domain: managedEnvironment.properties.defaultDomain
    staticIp: managedEnvironment.properties.staticIp
    vnetId: vnetId
    tags: tags
  }
}

output address string = '${app.properties.configuration.ingress.fqdn}:3310'
