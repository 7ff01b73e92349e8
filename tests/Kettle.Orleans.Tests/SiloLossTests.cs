using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.TestingHost;
using Xunit.Abstractions;

namespace Kettle.Orleans.Tests;

/// <summary>A silo dies, or is stopped, while calls run on it: every call still ends, with its result or a clear error.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SiloLossTests
{
    private readonly ClusterFixture fixture;
    private readonly ITestOutputHelper output;

    public SiloLossTests(ClusterFixture fixture, ITestOutputHelper output)
    {
        this.fixture = fixture;
        this.output = output;
    }

    [Fact]
    public async Task Killing_the_secondary_silo_mid_run_loses_no_call()
    {
        await fixture.EnsureTwoSilos();
        try
        {
            await KillSecondaryMidRun();
        }
        finally
        {
            // Even when an assertion failed: the tests after this one expect two silos.
            await fixture.EnsureTwoSilos();
            output.WriteLine(fixture.LastSettle);
        }
    }

    private async Task KillSecondaryMidRun()
    {
        var cluster = fixture.Cluster;
        var options = new ClusterExecutorOptions { MaxInFlight = 16, MaxAttempts = 4, RetryDelay = TimeSpan.FromMilliseconds(500) };
        options.IdempotentMethods.Add((Func<int, int, CancellationToken, int>)Jobs.IdempotentWork);
        using var executor = new ClusterExecutor(cluster.Client, options);

        // Warm up: every slot has its grain activated, on both silos.
        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => executor.Submit(Jobs.Work, i, 0, CancellationToken.None)));
        var secondary = cluster.SecondarySilos[0];
        string secondaryName = secondary.Name;
        Assert.Contains(secondaryName, executor.CallsBySilo.Keys);

        var plain = Enumerable.Range(0, 40).Select(i => executor.Submit(Jobs.Work, i, 400, CancellationToken.None)).ToArray();
        var idempotent = Enumerable.Range(0, 40).Select(i => executor.Submit(Jobs.IdempotentWork, i, 400, CancellationToken.None)).ToArray();
        var all = plain.Concat(idempotent).ToArray();
        // Kill once calls are running (some completed means the others are on their way or running).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!all.Any(c => c.IsCompleted) && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.WhenAny(all.Append(Task.Delay(TimeSpan.FromSeconds(1))));
        }
        await cluster.KillSiloAsync(secondary);

        // Every call ends: none is lost. The response timeout (10 s) bounds how long a lost one can hang.
        await Task.WhenAll(all.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(TimeSpan.FromSeconds(90));
        int ok = 0, lost = 0, undelivered = 0;
        for (int i = 0; i < all.Length; i++)
        {
            var c = all[i];
            if (c.IsCompletedSuccessfully)
            {
                Assert.Equal(i % 40, await c);
                ok++;
                continue;
            }
            var ex = Assert.IsType<ClusterCallException>(c.Exception!.InnerException);
            if (ex.Failure == ClusterCallFailure.WorkerLost)
            {
                lost++;
                Assert.Contains("lost", ex.Message, StringComparison.Ordinal);
            }
            else
            {
                Assert.Equal(ClusterCallFailure.NotDelivered, ex.Failure);
                undelivered++;
            }
        }
        output.WriteLine($"after killing {secondaryName} ({secondary.SiloAddress}): {ok} results, {lost} worker lost, {undelivered} not delivered; ran on: " +
            string.Join(", ", executor.CallsBySilo.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.Equal(80, ok + lost + undelivered);
        Assert.True(ok > 0);
        // A call's task completes just before its slot is given back (on the executor's thread): wait for that.
        await Poll.Until(() => executor.InFlight == 0, "every slot to be given back");

        // The survivor takes new calls, once the cluster has settled (see UntilSettled: until then a new grain may get no
        // answer, and this call is not idempotent).
        await fixture.UntilSettled();
        Assert.Equal(7, await executor.Submit(Jobs.Work, 7, 0, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task Stopping_the_secondary_silo_gracefully_mid_call_loses_no_call()
    {
        await fixture.EnsureTwoSilos();
        Jobs.HoldGate.Reset();
        try
        {
            await StopSecondaryMidCall();
        }
        finally
        {
            Jobs.HoldGate.Set();
            await fixture.EnsureTwoSilos();
            output.WriteLine(fixture.LastSettle);
        }
    }

    private async Task StopSecondaryMidCall()
    {
        var cluster = fixture.Cluster;
        using var executor = new ClusterExecutor(cluster.Client, new ClusterExecutorOptions { MaxInFlight = 16 });
        var secondary = cluster.SecondarySilos[0];
        string run = "stop-" + Guid.NewGuid() + "/";
        var calls = Enumerable.Range(0, 16).Select(i => executor.Submit(Jobs.Hold, run + i, CancellationToken.None)).ToArray();
        // Each silo runs at most 4 calls at once (MaxConcurrentCalls), so once 5 run, one of them runs on the secondary.
        // (The 16 slots' grains are placed by hash: all 16 on the primary is a 1 in 65,536 chance.)
        await Poll.Until(() => Jobs.Holding.Keys.Count(k => k.StartsWith(run, StringComparison.Ordinal)) >= 5, "5 calls to be running");

        // Graceful: the silo leaves the cluster and deactivates its grains, which waits for the calls they run. Once it is
        // on its way down, the held calls may end: each ends with its result, or is lost if the silo goes first.
        var status = ((InProcessSiloHandle)secondary).ServiceProvider.GetRequiredService<ISiloStatusOracle>();
        var stopping = cluster.StopSiloAsync(secondary);
        await Poll.Until(() => status.CurrentStatus is SiloStatus.ShuttingDown or SiloStatus.Stopping or SiloStatus.Dead, "the silo to be stopping");
        Assert.False(stopping.IsCompleted);
        Jobs.HoldGate.Set();
        await stopping.WaitAsync(TimeSpan.FromSeconds(60));

        // Every call ends, within the response timeout (10 s) and a little: none is lost or hangs.
        await Task.WhenAll(calls.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(TimeSpan.FromSeconds(30));
        int ok = 0, lost = 0, undelivered = 0;
        for (int i = 0; i < calls.Length; i++)
        {
            var c = calls[i];
            if (c.IsCompletedSuccessfully)
            {
                Assert.Equal(run + i, await c);
                ok++;
                continue;
            }
            var ex = Assert.IsType<ClusterCallException>(c.Exception!.InnerException);
            Assert.NotEqual(ClusterCallFailure.Rejected, ex.Failure);
            if (ex.Failure == ClusterCallFailure.WorkerLost)
            {
                lost++;
            }
            else
            {
                undelivered++;
            }
        }
        output.WriteLine($"after stopping {secondary.Name} ({secondary.SiloAddress}): {ok} results, {lost} worker lost, {undelivered} not delivered; ran on: " +
            string.Join(", ", executor.CallsBySilo.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.Equal(16, ok + lost + undelivered);
        await Poll.Until(() => executor.InFlight == 0, "every slot to be given back");

        // The survivor takes new calls.
        await fixture.UntilSettled();
        Assert.Equal(7, await executor.Submit(Jobs.Work, 7, 0, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60)));
    }
}
