using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Kettle.Orleans.Tests;

/// <summary>
/// One two-silo in-process cluster for every integration test (started once; xunit collection fixture). Silos run
/// this test assembly's jobs, at most 4 at once each; responses time out after a short 10 s so a lost silo is noticed
/// quickly, and silos are declared dead after one missed probe.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(10);

    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(2);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>Starts a new secondary silo if one was killed, so later tests see two silos again.</summary>
    public async Task EnsureTwoSilos()
    {
        if (Cluster.GetActiveSilos().Count() < 2)
        {
            await Cluster.StartAdditionalSiloAsync();
            await Cluster.WaitForLivenessToStabilizeAsync();
        }
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddKettleWorkers(o =>
            {
                o.JobAssemblies.Add(typeof(Jobs).Assembly);
                o.MaxConcurrentCalls = 4;
            });
            siloBuilder.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = ResponseTimeout);
            siloBuilder.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 1;
                o.NumVotesForDeathDeclaration = 1;
            });
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = ResponseTimeout);
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
