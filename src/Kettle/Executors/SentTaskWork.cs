namespace Kettle;

/// <summary>
/// Work submitted from outside a loop to an executor that sends the call elsewhere (the process pool, the cluster
/// executor): completes a .NET task, and never runs in this process.
/// </summary>
/// <remarks>Threading: completed from the executor's own threads; the task's continuations run asynchronously.</remarks>
internal sealed class SentTaskWork<TResult> : ExecutorWork
{
    private readonly TaskCompletionSource<TResult> tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string runsIn;

    /// <param name="function"></param>

    /// <param name="arguments"></param>    /// <param name="runsIn">Where the call runs, for the error if something tries to run it here ("a worker process").</param>
    public SentTaskWork(Delegate function, object?[] arguments, string runsIn)
        : base(function, arguments)
    {
        this.runsIn = runsIn;
    }

    public Task<TResult> Task => tcs.Task;

    public override Type ResultType => typeof(TResult);

    public override void RunHere() => throw new NotSupportedException($"This work runs in {runsIn}, not in this process.");

    protected override void OnCompleted(object? result, Exception? exception)
    {
        if (exception is null)
        {
            tcs.TrySetResult((TResult)result!);
        }
        else
        {
            tcs.TrySetException(exception);
        }
    }

    protected override void OnCancelled() => tcs.TrySetCanceled();
}
