namespace Kettle.Orleans;

/// <summary>
/// Settings of a <see cref="ClusterExecutor"/>. asyncio counterpart: the constructor arguments of
/// <c>concurrent.futures.ProcessPoolExecutor</c> (<c>max_workers</c> becomes <see cref="MaxInFlight"/>).
/// </summary>
/// <remarks>Threading: configure before making the executor; it copies what it needs.</remarks>
public sealed class ClusterExecutorOptions
{
    /// <summary>The most calls in flight to the cluster at once (default 64); the rest wait in the executor, in order.</summary>
    public int MaxInFlight { get; set; } = 64;

    /// <summary>
    /// Each call's deadline, from when it is sent (default: none). Past it the call is cancelled through its token
    /// (which reaches the method if it takes one) and fails with <see cref="TimeoutException"/>.
    /// </summary>
    public TimeSpan? CallTimeout { get; set; }

    /// <summary>How many times a call is sent at most (default 3): calls not delivered, and idempotent calls whose worker was lost, are sent again.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>The pause before the second attempt (default 100 ms); it doubles for each further one.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Methods that may run more than once with the same effect (method groups, e.g. <c>(Func&lt;int, long&gt;)Jobs.Square</c>):
    /// a call whose worker was lost mid-call is sent again only for these.
    /// </summary>
    public IList<Delegate> IdempotentMethods { get; } = new List<Delegate>();
}
