namespace Kettle;

/// <summary>
/// Work submitted from a loop: its outcome comes back through the loop's thread-safe inbox and completes a
/// loop future, so the awaiting task resumes on the loop thread (asyncio: <c>wrap_future</c> +
/// <c>call_soon_threadsafe</c>). While it is in flight the loop knows it waits on the outside, so virtual time
/// does not jump past it.
/// </summary>
/// <remarks>Threading: made on the loop thread; run on an executor's thread; completed back on the loop thread.</remarks>
internal sealed class LoopWork<TResult> : ExecutorWork, IReadyItem
{
    private readonly EventLoop loop;
    private readonly Func<TResult> invoker;
    private readonly ExecutionContext? context;
    private TResult? result;
    private Exception? exception;
    private bool cancelledByFuture;

    public LoopWork(EventLoop loop, Delegate function, object?[] arguments, Func<TResult> invoker)
        : base(function, arguments)
    {
        this.loop = loop;
        this.invoker = invoker;
        // to_thread copies the caller's context: the thread sees its AsyncLocal values; its changes stay there.
        context = ExecutionContext.Capture();
        Future = new Future<TResult>(loop)
        {
            // Not started: it never will. Running: the thread finishes on its own and its outcome is dropped
            // (a process pool kills the worker running it).
            OnCancelRequested = () =>
            {
                cancelledByFuture = true;
                RequestCancel();
            },
            DisplayName = function.Method.Name,
        };
        loop.executorPending++;
    }

    public Future<TResult> Future { get; }

    public override Type ResultType => typeof(TResult);

    public override void RunHere()
    {
        // As Invoke, but the result stays typed: no box per call for a value-type result.
        var saved = ExecutionContext.Capture();
        if (context is not null)
        {
            ExecutionContext.Restore(context);
        }
        Exception? error = null;
        try
        {
            result = invoker();
        }
        catch (Exception ex)
        {
            error = ex;
        }
        finally
        {
            if (saved is not null)
            {
                ExecutionContext.Restore(saved);
            }
        }
        Complete(null, error);
    }

    /// <summary>Runs <paramref name="function"/> in <paramref name="context"/> and completes <paramref name="work"/>.</summary>
    internal static void Invoke(ExecutorWork work, ExecutionContext? context, Func<TResult> function)
    {
        var saved = ExecutionContext.Capture();
        if (context is not null)
        {
            ExecutionContext.Restore(context);
        }
        object? value = null;
        Exception? error = null;
        try
        {
            value = function();
        }
        catch (Exception ex)
        {
            error = ex;
        }
        finally
        {
            if (saved is not null)
            {
                ExecutionContext.Restore(saved);
            }
        }
        work.Complete(value, error);
    }

    protected override void OnCompleted(object? value, Exception? error)
    {
        if (value is not null)
        {
            // A process pool hands the deserialized result over boxed; threads stored it typed in RunHere.
            result = (TResult)value;
        }
        exception = error;
        if (!loop.TryEnqueueThreadsafe(this))
        {
            // The loop closed while the work ran: nobody can await it any more. Say so if it failed.
            if (error is not null)
            {
                loop.CallExceptionHandler(new LoopExceptionContext("Executor work failed after its event loop closed", error));
            }
        }
    }

    protected override void OnCancelled()
    {
        if (loop.IsOnLoopThread)
        {
            Settle();
        }
        else if (!loop.TryEnqueueThreadsafe(new Handle(loop, (Action)Settle, null)))
        {
            // Closed loop: nothing left to settle.
        }

        void Settle()
        {
            loop.executorPending--;
            if (!cancelledByFuture)
            {
                // Cancelled by the executor's shutdown: the future learns it here. (When the future itself was
                // cancelled, it is finishing already.)
                Future.TryCancelFuture();
            }
        }
    }

    /// <summary>Back on the loop: hand the outcome to the future.</summary>
    void IReadyItem.RunReady()
    {
        loop.executorPending--;
        if (exception is not null)
        {
            Future.TrySetException(exception);
        }
        else
        {
            Future.TrySetResult(result!);
        }
    }
}
