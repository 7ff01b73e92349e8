namespace Kettle;

/// <summary>
/// Somewhere to run synchronous work off the loop thread: a pool of threads or of processes.
/// asyncio counterpart: <c>concurrent.futures.Executor</c>, as used by <c>loop.run_in_executor</c>.
/// </summary>
/// <remarks>
/// Work reaches an executor as a delegate and its arguments (<see cref="Aio.RunInExecutor{TResult}(Executor?, Func{TResult})"/>
/// and its overloads). A thread pool calls the delegate; a process pool sends the call (a static method and its
/// arguments) to a worker process.
/// <para>Threading: any thread.</para>
/// </remarks>
public abstract class Executor : IDisposable
{
    private protected Executor()
    {
    }

    /// <summary>Queues <paramref name="work"/>; throws <see cref="InvalidOperationException"/> after shutdown.</summary>
    internal abstract void Submit(ExecutorWork work);

    /// <summary>Whether this executor reads <see cref="ExecutorWork.Arguments"/> (it sends them to another process);
    /// executors that call the closure on a thread of this process do not, so the array and boxes are not made.</summary>
    internal virtual bool SendsArguments => false;

    /// <summary>
    /// Stops taking work. With <paramref name="wait"/>, returns when running and queued work has finished;
    /// with <paramref name="cancelPending"/>, work not started yet is cancelled instead of run.
    /// asyncio counterpart: <c>Executor.shutdown(wait, cancel_futures)</c>.
    /// </summary>
    public abstract void Shutdown(bool wait = true, bool cancelPending = false);

    /// <summary>Whether <see cref="Shutdown"/> has been called.</summary>
    public abstract bool IsShutdown { get; }

    /// <summary>Shuts down and waits for the work already submitted.</summary>
    public void Dispose()
    {
        Shutdown(wait: true);
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// One call handed to an executor: the delegate with its arguments, and where the outcome goes.
/// State goes Queued → Running → Done, or Queued → Cancelled; both transitions are atomic, so work
/// cancelled before it starts never runs, and running work is never reported as cancelled.
/// </summary>
/// <remarks>Threading: any thread; <see cref="Complete"/> hands the outcome over exactly once.</remarks>
internal abstract class ExecutorWork : IThreadWork
{
    private const int Queued = 0;
    private const int Running = 1;
    private const int Finished = 2;
    private const int Cancelled = 3;

    private static readonly Action CancelRequestedMarker = () => { };

    private int state;
    private Action? runningCancelHandler;

    protected ExecutorWork(Delegate function, object?[] arguments)
    {
        Function = function;
        Arguments = arguments;
    }

    /// <summary>The delegate: called directly by threads, described (static method + arguments) for processes.</summary>
    public Delegate Function { get; }

    /// <summary>The arguments, for executors that cannot call a closure (process pools).</summary>
    public object?[] Arguments { get; }

    /// <summary>The result type, for executors that deserialize results.</summary>
    public abstract Type ResultType { get; }

    public bool IsCancelled => Volatile.Read(ref state) == Cancelled;

    /// <summary>Claims the work for running; false if it was cancelled first.</summary>
    public bool TryStart() => Interlocked.CompareExchange(ref state, Running, Queued) == Queued;

    /// <summary>Cancels the work if it has not started; returns whether it did.</summary>
    public bool TryCancelQueued()
    {
        if (Interlocked.CompareExchange(ref state, Cancelled, Queued) == Queued)
        {
            OnCancelled();
            return true;
        }
        return false;
    }

    /// <summary>
    /// Cancels the work: queued work is removed (as <see cref="TryCancelQueued"/>); for running work, the handler
    /// the executor set with <see cref="SetRunningCancelHandler"/> runs (a process pool kills the worker).
    /// </summary>
    public void RequestCancel()
    {
        if (TryCancelQueued())
        {
            return;
        }
        var handler = Interlocked.Exchange(ref runningCancelHandler, CancelRequestedMarker);
        if (handler is not null && !ReferenceEquals(handler, CancelRequestedMarker))
        {
            handler();
        }
    }

    /// <summary>
    /// Sets what <see cref="RequestCancel"/> does while the work runs; runs it at once if the cancellation came
    /// first. Thread pools never set one: a thread cannot be stopped.
    /// </summary>
    public void SetRunningCancelHandler(Action handler)
    {
        if (Interlocked.CompareExchange(ref runningCancelHandler, handler, null) is { } previous
            && ReferenceEquals(previous, CancelRequestedMarker))
        {
            handler();
        }
    }

    /// <summary>Removes the handler set by <see cref="SetRunningCancelHandler"/> (the call is over).</summary>
    public void ClearRunningCancelHandler(Action handler) => Interlocked.CompareExchange(ref runningCancelHandler, null, handler);

    /// <summary>Whether <see cref="RequestCancel"/> was called while the work ran.</summary>
    public bool IsCancelRequested => ReferenceEquals(Volatile.Read(ref runningCancelHandler), CancelRequestedMarker);

    /// <summary>Runs the delegate here (thread pools) and completes with its outcome.</summary>
    public abstract void RunHere();

    /// <summary>Hands over the outcome of running work (result boxed, or the exception).</summary>
    public void Complete(object? result, Exception? exception)
    {
        if (Interlocked.Exchange(ref state, Finished) == Running)
        {
            OnCompleted(result, exception);
        }
    }

    /// <summary>Fails work that was claimed but could not run (a worker process died, the pool shut down).</summary>
    public void Fail(Exception exception)
    {
        int s = Interlocked.Exchange(ref state, Finished);
        if (s is Running or Queued)
        {
            OnCompleted(null, exception);
        }
    }

    protected abstract void OnCompleted(object? result, Exception? exception);

    protected abstract void OnCancelled();

    void IThreadWork.Execute()
    {
        if (TryStart())
        {
            RunHere();
        }
    }

    void IThreadWork.CancelQueued() => TryCancelQueued();

    IThreadWork? IThreadWork.NextQueued { get; set; }
}

/// <summary>
/// Work submitted from outside a loop: its outcome completes a .NET task (thread pools' and the executors' that
/// send calls elsewhere).
/// </summary>
/// <remarks>Threading: completed from the executor's threads; the task's continuations run asynchronously.</remarks>
internal abstract class TaskCompletionWork<TResult> : ExecutorWork
{
    private readonly TaskCompletionSource<TResult> tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected TaskCompletionWork(Delegate function, object?[] arguments)
        : base(function, arguments)
    {
    }

    public Task<TResult> Task => tcs.Task;

    public override Type ResultType => typeof(TResult);

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
