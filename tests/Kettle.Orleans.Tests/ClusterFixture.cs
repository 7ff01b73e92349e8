using System.Diagnostics;
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

    private static readonly TimeSpan SettleBound = TimeSpan.FromSeconds(90);

    public TestCluster Cluster { get; private set; } = null!;

    /// <summary>How the last wait for the cluster to serve new grains went (for the tests' output).</summary>
    public string LastSettle { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(2);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        await UntilSettled();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>
    /// Starts a new secondary silo if one was killed or stopped, so later tests see two silos again, and waits until the
    /// cluster serves new grains on both.
    /// </summary>
    public async Task EnsureTwoSilos()
    {
        if (Cluster.GetActiveSilos().Count() < 2)
        {
            await Cluster.StartAdditionalSiloAsync();
            await Cluster.WaitForLivenessToStabilizeAsync();
            await UntilSettled();
        }
    }

    /// <summary>
    /// Waits until a new executor's calls (new grains, placed over the silos) all answer within a few seconds and ran on
    /// every active silo. After a silo was killed, on a loaded machine, some new grains got no answer for up to about
    /// 26 s, even on the surviving silo (presumably until the cluster has declared the dead silo dead and recovered its
    /// part of the grain directory); a fixed wait was not enough, and the next tests' calls timed out (10 s response
    /// timeout) or did not start before their deadlines.
    /// </summary>
    public async Task UntilSettled()
    {
        var clock = Stopwatch.StartNew();
        string last = "not tried";
        string? first = null;
        for (int attempt = 1; clock.Elapsed < SettleBound; attempt++)
        {
            using (var probe = new ClusterExecutor(Cluster.Client, new ClusterExecutorOptions { MaxInFlight = 16, CallTimeout = TimeSpan.FromSeconds(3) }))
            {
                var calls = Enumerable.Range(0, 32).Select(i => probe.Submit(Jobs.Add, i, 1)).ToArray();
                try
                {
                    await Task.WhenAll(calls);
                    int silos = Cluster.GetActiveSilos().Count();
                    if (probe.CallsBySilo.Count == silos)
                    {
                        LastSettle = attempt == 1
                            ? $"new grains answered on all {silos} silos at once"
                            : $"new grains answered on all {silos} silos after {attempt} tries, {clock.Elapsed.TotalSeconds:0.0} s; first failure: {first}";
                        return;
                    }
                    last = $"calls ran on {probe.CallsBySilo.Count} of {silos} silos";
                }
                catch (Exception ex) when (ex is TimeoutException or ClusterCallException)
                {
                    last = $"{calls.Count(c => !c.IsCompletedSuccessfully)} of 32 calls failed: {ex.GetType().Name}: {ex.Message}";
                }
            }
            first ??= last;
            await Task.Delay(200);
        }
        throw new TimeoutException(
            $"The cluster did not serve new grains on every silo within {SettleBound.TotalSeconds} s ({last}); silos: " +
            string.Join(", ", Cluster.GetActiveSilos().Select(s => $"{s.Name} {s.SiloAddress}")));
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
