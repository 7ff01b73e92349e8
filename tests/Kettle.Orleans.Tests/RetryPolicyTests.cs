using System.Collections.Concurrent;
using System.Reflection;
using Orleans;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace Kettle.Orleans.Tests;

/// <summary>
/// The executor's retries, classification and in-flight bound against a fake grain (no cluster): each attempt is
/// answered by a script of outcomes; the real dispatcher runs the call when the script says "run".
/// </summary>
public sealed class RetryPolicyTests
{
    private static readonly KettleCallDispatcher Dispatcher = new([typeof(Jobs).Assembly]);

    private static ClusterExecutorOptions Fast(params Delegate[] idempotent)
    {
        var o = new ClusterExecutorOptions { RetryDelay = TimeSpan.FromMilliseconds(1), MaxAttempts = 3 };
        foreach (var d in idempotent)
        {
            o.IdempotentMethods.Add(d);
        }
        return o;
    }

    [Fact]
    public async Task A_call_not_delivered_is_sent_again_and_succeeds()
    {
        var grains = FakeGrains.Scripted(new ConnectionFailedException("refused"), new ConnectionFailedException("refused"), null);
        using var executor = new ClusterExecutor(grains.Factory, Fast());
        Assert.Equal(49L, await executor.Submit(Jobs.Square, 7L));
        Assert.Equal(3, grains.Attempts);
    }

    [Fact]
    public async Task A_call_never_delivered_fails_as_not_delivered_after_the_last_attempt()
    {
        var grains = FakeGrains.Scripted(new ConnectionFailedException("refused"), new ConnectionFailedException("refused"), new ConnectionFailedException("refused"));
        using var executor = new ClusterExecutor(grains.Factory, Fast());
        var ex = await Assert.ThrowsAsync<ClusterCallException>(() => executor.Submit(Jobs.Square, 7L));
        Assert.Equal(ClusterCallFailure.NotDelivered, ex.Failure);
        Assert.Equal(3, ex.Attempts);
        Assert.Contains("did not run", ex.Message, StringComparison.Ordinal);
        Assert.IsType<ConnectionFailedException>(ex.InnerException);
    }

    [Fact]
    public async Task A_lost_worker_is_not_retried_for_a_method_not_marked_idempotent()
    {
        var grains = FakeGrains.Scripted(new SiloUnavailableException("silo died"), null);
        using var executor = new ClusterExecutor(grains.Factory, Fast());
        var ex = await Assert.ThrowsAsync<ClusterCallException>(() => executor.Submit(Jobs.Square, 7L));
        Assert.Equal(ClusterCallFailure.WorkerLost, ex.Failure);
        Assert.Equal(1, ex.Attempts);
        Assert.Equal(1, grains.Attempts);
        Assert.Contains("IdempotentMethods", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_lost_worker_is_retried_for_an_idempotent_method()
    {
        var grains = FakeGrains.Scripted(new TimeoutException("response timeout"), null);
        using var executor = new ClusterExecutor(grains.Factory, Fast((Func<long, long>)Jobs.Square));
        Assert.Equal(49L, await executor.Submit(Jobs.Square, 7L));
        Assert.Equal(2, grains.Attempts);
    }

    [Fact]
    public async Task At_most_max_in_flight_calls_are_sent_and_the_rest_wait_in_order()
    {
        var grains = FakeGrains.Gated();
        using var executor = new ClusterExecutor(grains.Factory, new ClusterExecutorOptions { MaxInFlight = 3 });
        var calls = Enumerable.Range(0, 10).Select(i => executor.Submit(Jobs.Square, (long)i)).ToArray();
        await grains.WaitForRunning(3);
        Assert.Equal(3, executor.InFlight);
        Assert.Equal(7, executor.QueuedCount);
        grains.Open();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i * i), await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(60)));
        // A call's task completes just before its slot is given back (on the executor's thread): wait for that.
        await Poll.Until(() => executor.InFlight == 0, "the last slot to be given back");
        Assert.Equal(3, grains.MaxConcurrent);
    }

    [Fact]
    public void Options_out_of_range_are_refused()
    {
        var grains = FakeGrains.Scripted().Factory;
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClusterExecutor(grains, new ClusterExecutorOptions { MaxInFlight = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClusterExecutor(grains, new ClusterExecutorOptions { MaxAttempts = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClusterExecutor(grains, new ClusterExecutorOptions { CallTimeout = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClusterExecutor(grains, new ClusterExecutorOptions { RetryDelay = TimeSpan.FromSeconds(-1) }));
    }

    /// <summary>An IGrainFactory whose worker grains follow a script, made with DispatchProxy.</summary>
    private sealed class FakeGrains
    {
        private readonly ConcurrentQueue<Exception?> script = new();
        private readonly TaskCompletionSource gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly bool gated;
        private int attempts;
        private int running;
        private int maxConcurrent;

        private FakeGrains(bool gated, Exception?[] outcomes)
        {
            this.gated = gated;
            foreach (var o in outcomes)
            {
                script.Enqueue(o);
            }
            if (!gated)
            {
                gate.SetResult();
            }
            Factory = FactoryProxy.Create(this);
        }

        public IGrainFactory Factory { get; }

        public int Attempts => Volatile.Read(ref attempts);

        public int MaxConcurrent => Volatile.Read(ref maxConcurrent);

        /// <summary>Each attempt takes the next outcome: an exception thrown as Orleans would, or null to run the call.</summary>
        public static FakeGrains Scripted(params Exception?[] outcomes) => new(false, outcomes);

        /// <summary>Calls run once <see cref="Open"/> is called.</summary>
        public static FakeGrains Gated() => new(true, []);

        public void Open() => gate.TrySetResult();

        public async Task WaitForRunning(int count)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (Volatile.Read(ref running) < count)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "calls did not start");
                await Task.Delay(10);
            }
        }

        public async Task<KettleCallReply> Run(KettleCallRequest call, CancellationToken token)
        {
            Interlocked.Increment(ref attempts);
            int now = Interlocked.Increment(ref running);
            int seen;
            while ((seen = Volatile.Read(ref maxConcurrent)) < now && Interlocked.CompareExchange(ref maxConcurrent, now, seen) != seen)
            {
            }
            try
            {
                await gate.Task.WaitAsync(token);
                if (script.TryDequeue(out var outcome) && outcome is not null)
                {
                    throw outcome;
                }
                return Dispatcher.Invoke(call, "fake", token);
            }
            finally
            {
                Interlocked.Decrement(ref running);
            }
        }
    }

    public class FactoryProxy : DispatchProxy
    {
        private FakeGrains owner = null!;

        internal static IGrainFactory Create(object owner)
        {
            var proxy = Create<IGrainFactory, FactoryProxy>();
            ((FactoryProxy)(object)proxy).owner = (FakeGrains)owner;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod is { Name: nameof(IGrainFactory.GetGrain), IsGenericMethod: true } && targetMethod.GetGenericArguments()[0] == typeof(IKettleWorkerGrain))
            {
                return GrainProxy.Create(owner);
            }
            throw new NotSupportedException(targetMethod?.Name);
        }
    }

    public class GrainProxy : DispatchProxy
    {
        private FakeGrains owner = null!;

        internal static IKettleWorkerGrain Create(object owner)
        {
            var proxy = Create<IKettleWorkerGrain, GrainProxy>();
            ((GrainProxy)(object)proxy).owner = (FakeGrains)owner;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == nameof(IKettleWorkerGrain.Run)
                ? owner.Run((KettleCallRequest)args![0]!, (CancellationToken)args[1]!)
                : throw new NotSupportedException(targetMethod?.Name);
    }
}
