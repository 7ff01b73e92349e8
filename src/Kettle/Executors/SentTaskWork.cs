namespace Kettle;

/// <summary>
/// Work submitted from outside a loop to an executor that sends the call elsewhere (the process pool, the cluster
/// executor): completes a .NET task, and never runs in this process.
/// </summary>
/// <remarks>Threading: completed from the executor's own threads; the task's continuations run asynchronously.</remarks>
internal sealed class SentTaskWork<TResult> : TaskCompletionWork<TResult>
{
    private readonly string runsIn;

    /// <param name="function">The method to call there.</param>
    /// <param name="arguments">Its arguments, to be sent.</param>
    /// <param name="runsIn">Where the call runs, for the error if something tries to run it here ("a worker process").</param>
    public SentTaskWork(Delegate function, object?[] arguments, string runsIn)
        : base(function, arguments)
    {
        this.runsIn = runsIn;
    }

    /// <summary>
    /// What the public <c>Submit</c> overloads of such an executor do: submits the call to <paramref name="executor"/>
    /// and returns the task for its result.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="function"/> is null.</exception>
    /// <exception cref="ArgumentException">The call cannot be sent (from the executor).</exception>
    /// <exception cref="InvalidOperationException">The executor was shut down (from the executor).</exception>
    public static Task<TResult> Submit(Executor executor, Delegate function, object?[] arguments, string runsIn)
    {
        ArgumentNullException.ThrowIfNull(function);
        var work = new SentTaskWork<TResult>(function, arguments, runsIn);
        executor.Submit(work);
        return work.Task;
    }

    public override void RunHere() => throw new NotSupportedException($"This work runs in {runsIn}, not in this process.");
}

/// <summary>
/// The calls an executor that sends calls elsewhere keeps in its own queue until it can send them, and what its
/// shutdown does with them (asyncio: <c>Executor.shutdown(cancel_futures=True)</c> cancels those not started).
/// </summary>
/// <remarks>Threading: <see cref="TakeAll"/> under the executor's lock; <see cref="CancelAll"/> after it is released.</remarks>
internal static class QueuedCalls
{
    /// <summary>Empties <paramref name="queue"/> and returns the work its entries carry, in order.</summary>
    public static List<ExecutorWork> TakeAll<T>(Queue<T> queue, Func<T, ExecutorWork> work)
    {
        var taken = new List<ExecutorWork>(queue.Count);
        foreach (var entry in queue)
        {
            taken.Add(work(entry));
        }
        queue.Clear();
        return taken;
    }

    /// <summary>Cancels each of <paramref name="taken"/> (work its caller cancelled already stays as it is).</summary>
    public static void CancelAll(List<ExecutorWork>? taken)
    {
        if (taken is null)
        {
            return;
        }
        foreach (var w in taken)
        {
            w.TryCancelQueued();
        }
    }
}
