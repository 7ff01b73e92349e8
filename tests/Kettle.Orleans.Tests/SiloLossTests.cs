using Xunit.Abstractions;

namespace Kettle.Orleans.Tests;

/// <summary>A silo dies while calls run on it: every call still ends, with its result or a clear error.</summary>
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
        output.WriteLine($"after killing {secondaryName}: {ok} results, {lost} worker lost, {undelivered} not delivered; ran on: " +
            string.Join(", ", executor.CallsBySilo.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.Equal(80, ok + lost + undelivered);
        Assert.True(ok > 0);
        Assert.Equal(0, executor.InFlight);

        // The survivor takes new calls.
        Assert.Equal(7, await executor.Submit(Jobs.Work, 7, 0, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60)));
        await fixture.EnsureTwoSilos();
    }
}
