using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Orleans;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace Kettle.Orleans;

/// <summary>
/// Runs calls on an Orleans cluster: the process pool's calls (a public static method and its arguments, as
/// System.Text.Json of the declared types), sent to worker grains on silos that were deployed with the method's
/// assembly. Code written against a <see cref="ProcessPoolExecutor"/> moves to the cluster by changing the executor.
/// asyncio counterpart: <c>concurrent.futures.ProcessPoolExecutor</c> (an Executor whose workers are silos), used
/// with <c>loop.run_in_executor</c> (<see cref="Aio.RunInExecutor{T1, TResult}(Executor?, Func{T1, TResult}, T1)"/>)
/// or directly (<see cref="Submit{T1, TResult}(Func{T1, TResult}, T1)"/>).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>What is sent: the method's identity (assembly name and version, type, name, parameter types) and the
/// arguments as JSON. Calls that cannot be sent are refused at submission with an <see cref="ArgumentException"/>,
/// exactly as by the process pool. A silo runs only methods of its registered job assemblies, at the same version.</item>
/// <item>At most <see cref="MaxInFlight"/> calls are in flight; the rest wait here, in order. Each in-flight call has
/// its own worker grain (a slot), placed by hash over the silos; each silo bounds how many run at once.</item>
/// <item>Outcomes: the result; the method's exception as a <see cref="RemoteException"/>; a
/// <see cref="ClusterCallException"/> (rejected by the silo, not delivered after the retries, or worker lost with
/// the outcome unknown); <see cref="TimeoutException"/> past <see cref="ClusterExecutorOptions.CallTimeout"/>;
/// cancellation. Every submitted call ends with one of them.</item>
/// <item>Cancelling a call cancels its token on the silo (a trailing <see cref="CancellationToken"/> parameter of the
/// method receives it); a call still waiting here or queued on its grain never runs.</item>
/// </list>
/// <para>Threading: any thread; completions arrive on .NET thread-pool threads (on the loop for
/// <see cref="Aio.RunInExecutor{TResult}(Executor?, Func{TResult})"/>).</para>
/// </remarks>
[DebuggerDisplay("ClusterExecutor inFlight={inFlight} queued={queue.Count}")]
public sealed class ClusterExecutor : Executor
{
    /// <summary>Where the calls run, for the error if something tries to run one here.</summary>
    private const string RunsIn = "a silo";

    private readonly IGrainFactory grains;
    private readonly object gate = new();
    private readonly Queue<PendingCall> queue = new();
    private readonly Stack<int> freeSlots = new();
    private readonly HashSet<MethodInfo> idempotent = new();
    private readonly Dictionary<string, long> bySilo = new(StringComparer.Ordinal);
    private readonly long keyBase;
    private readonly long[] generations;
    private int inFlight;
    private bool shutdown;

    /// <summary>Creates an executor that sends calls through <paramref name="grainFactory"/> (an Orleans client's <c>IClusterClient</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public ClusterExecutor(IGrainFactory grainFactory, ClusterExecutorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(grainFactory);
        options ??= new ClusterExecutorOptions();
        if (options.MaxInFlight <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxInFlight, "MaxInFlight must be greater than 0.");
        }
        if (options.MaxAttempts <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxAttempts, "MaxAttempts must be greater than 0.");
        }
        if (options.RetryDelay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.RetryDelay, "RetryDelay must not be negative.");
        }
        if (options.CallTimeout is { } t && t <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), t, "CallTimeout must be positive.");
        }
        grains = grainFactory;
        MaxInFlight = options.MaxInFlight;
        MaxAttempts = options.MaxAttempts;
        CallTimeout = options.CallTimeout;
        RetryDelay = options.RetryDelay;
        foreach (var d in options.IdempotentMethods)
        {
            idempotent.Add(d.Method);
        }
        generations = new long[MaxInFlight];
        for (int i = MaxInFlight - 1; i >= 0; i--)
        {
            freeSlots.Push(i);
        }
        // Slots of different executors are different grains: one executor's calls never queue behind another's.
        keyBase = Random.Shared.NextInt64(1, long.MaxValue / 2);
    }

    /// <summary>The most calls in flight to the cluster at once.</summary>
    public int MaxInFlight { get; }

    /// <summary>How many times a call is sent at most.</summary>
    public int MaxAttempts { get; }

    /// <summary>Each call's deadline, or null.</summary>
    public TimeSpan? CallTimeout { get; }

    private TimeSpan RetryDelay { get; }

    /// <inheritdoc/>
    public override bool IsShutdown
    {
        get
        {
            lock (gate)
            {
                return shutdown;
            }
        }
    }

    /// <summary>How many calls ran on each silo (by silo name), counting those that raised: where the work went.</summary>
    public IReadOnlyDictionary<string, long> CallsBySilo
    {
        get
        {
            lock (gate)
            {
                return new Dictionary<string, long>(bySilo, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>Calls in flight now (for tests).</summary>
    internal int InFlight
    {
        get
        {
            lock (gate)
            {
                return inFlight;
            }
        }
    }

    /// <summary>Calls waiting for a slot (for tests).</summary>
    internal int QueuedCount
    {
        get
        {
            lock (gate)
            {
                return queue.Count;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="function"/> (a public static method) on the cluster and returns a .NET task for its result,
    /// for use outside a loop. asyncio counterpart: <c>executor.submit(fn)</c>. On a loop, prefer
    /// <see cref="Aio.RunInExecutor{TResult}(Executor?, Func{TResult})"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The call cannot be sent (the message says why).</exception>
    /// <exception cref="InvalidOperationException">The executor was shut down.</exception>
    public Task<TResult> Submit<TResult>(Func<TResult> function) => SentTaskWork<TResult>.Submit(this, function, [], RunsIn);

    /// <summary>As <see cref="Submit{TResult}(Func{TResult})"/> with one argument (Python: <c>submit(fn, arg)</c>).</summary>
    public Task<TResult> Submit<T1, TResult>(Func<T1, TResult> function, T1 arg1) => SentTaskWork<TResult>.Submit(this, function, [arg1], RunsIn);

    /// <summary>As <see cref="Submit{TResult}(Func{TResult})"/> with two arguments.</summary>
    public Task<TResult> Submit<T1, T2, TResult>(Func<T1, T2, TResult> function, T1 arg1, T2 arg2) =>
        SentTaskWork<TResult>.Submit(this, function, [arg1, arg2], RunsIn);

    /// <summary>As <see cref="Submit{TResult}(Func{TResult})"/> with three arguments.</summary>
    public Task<TResult> Submit<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function, T1 arg1, T2 arg2, T3 arg3) =>
        SentTaskWork<TResult>.Submit(this, function, [arg1, arg2, arg3], RunsIn);

    internal override bool SendsArguments => true;

    /// <inheritdoc/>
    internal override void Submit(ExecutorWork work)
    {
        // Everything that can be wrong with the call is found here, before anything is queued.
        var call = ClusterCall.For(work.Function, work.ResultType);
        var pending = new PendingCall(work, call, call.SerializeArguments(work.Arguments));
        int slot;
        lock (gate)
        {
            if (shutdown)
            {
                throw new InvalidOperationException("Cannot schedule new work after the cluster executor was shut down.");
            }
            if (freeSlots.Count == 0)
            {
                queue.Enqueue(pending);
                return;
            }
            slot = freeSlots.Pop();
            inFlight++;
        }
        Start(pending, slot);
    }

    /// <inheritdoc/>
    public override void Shutdown(bool wait = true, bool cancelPending = false)
    {
        List<ExecutorWork>? cancelled = null;
        lock (gate)
        {
            shutdown = true;
            if (cancelPending)
            {
                cancelled = QueuedCalls.TakeAll(queue, c => c.Work);
            }
        }
        QueuedCalls.CancelAll(cancelled);
        if (!wait)
        {
            return;
        }
        lock (gate)
        {
            while (inFlight > 0 || queue.Count > 0)
            {
                Monitor.Wait(gate);
            }
        }
    }

    private void Start(PendingCall pending, int slot)
    {
        while (true)
        {
            if (pending.Work.TryStart())
            {
                // On the thread pool, off the submitter's thread (the loop has a synchronization context).
                var started = pending;
                _ = Task.Run(() => RunAsync(started, slot));
                return;
            }
            // Cancelled while it waited: the slot goes to the next call.
            lock (gate)
            {
                if (queue.Count == 0)
                {
                    FreeSlot(slot);
                    return;
                }
                pending = queue.Dequeue();
            }
        }
    }

    /// <summary>A call is over: its slot goes to the next waiting call, or back to the free ones.</summary>
    private void Release(int slot)
    {
        PendingCall next;
        lock (gate)
        {
            if (queue.Count == 0)
            {
                FreeSlot(slot);
                return;
            }
            next = queue.Dequeue();
        }
        Start(next, slot);
    }

    private void FreeSlot(int slot)
    {
        freeSlots.Push(slot);
        inFlight--;
        Monitor.PulseAll(gate);
    }

    private async Task RunAsync(PendingCall pending, int slot)
    {
        var work = pending.Work;
        var call = pending.Call;
        using var cancel = new CancellationTokenSource();
        using var deadline = CallTimeout is { } t ? new CancellationTokenSource(t) : null;
        using var linked = deadline is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, deadline.Token);
        var token = linked?.Token ?? cancel.Token;
        Action onCancel = () =>
        {
            try
            {
                cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The call is over.
            }
        };
        work.SetRunningCancelHandler(onCancel);
        var callId = Guid.NewGuid();
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    var grain = grains.GetGrain<IKettleWorkerGrain>(SlotKey(slot));
                    var reply = await grain.Run(call.Request(pending.Args, callId, attempt), token).ConfigureAwait(false);
                    Finish(work, call, reply, attempt);
                    return;
                }
                catch (Exception ex) when (token.IsCancellationRequested)
                {
                    RetireSlotGrain(slot);
                    FailCancelled(work, call, deadline, ex);
                    return;
                }
                catch (Exception ex)
                {
                    RetireSlotGrain(slot);
                    var failure = Classify(ex);
                    bool again = attempt < MaxAttempts && (failure == ClusterCallFailure.NotDelivered || idempotent.Contains(call.Plan.Method));
                    if (!again)
                    {
                        work.Fail(Failed(failure, call, attempt, ex));
                        return;
                    }
                }
                try
                {
                    await Task.Delay(RetryDelay * Math.Pow(2, attempt - 1), token).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex)
                {
                    FailCancelled(work, call, deadline, ex);
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            // Nothing above should throw; if it does, the call still ends.
            work.Fail(ex);
        }
        finally
        {
            work.ClearRunningCancelHandler(onCancel);
            Release(slot);
        }
    }

    /// <summary>The key of the worker grain a slot uses now.</summary>
    private long SlotKey(int slot) => keyBase + (Volatile.Read(ref generations[slot]) * MaxInFlight) + slot;

    /// <summary>
    /// The slot's call ended without a reply (cancelled, timed out, lost), so its grain may still be running it (a method
    /// that ignores its token): the slot's next call goes to a new grain rather than queue behind it.
    /// </summary>
    private void RetireSlotGrain(int slot) => Interlocked.Increment(ref generations[slot]);

    private void FailCancelled(ExecutorWork work, ClusterCall call, CancellationTokenSource? deadline, Exception ex)
    {
        if (deadline is { IsCancellationRequested: true } && !work.IsCancelRequested)
        {
            work.Fail(new TimeoutException(
                $"The call to {call.DisplayName} did not finish within {CallTimeout!.Value.TotalSeconds:0.###} s (ClusterExecutorOptions.CallTimeout); it was cancelled.", ex));
        }
        else
        {
            work.Fail(new OperationCanceledException($"The call to {call.DisplayName} was cancelled.", ex));
        }
    }

    /// <summary>Whether the call surely did not run (not delivered) or may have (worker lost).</summary>
    internal static ClusterCallFailure Classify(Exception ex) => ex switch
    {
        // A rejection too, but also how Orleans fails calls pending on a silo that was declared dead: they may have run.
        SiloUnavailableException => ClusterCallFailure.WorkerLost,
        // The runtime refused the message before any grain took it, or it could not be sent at all.
        OrleansMessageRejectionException or ConnectionFailedException or GatewayTooBusyException => ClusterCallFailure.NotDelivered,
        // The silo died or the response timed out: the call may have run, or even finished.
        _ => ClusterCallFailure.WorkerLost,
    };

    private ClusterCallException Failed(ClusterCallFailure failure, ClusterCall call, int attempts, Exception ex)
    {
        string tries = attempts == 1 ? "1 attempt" : $"{attempts} attempts";
        string message = failure == ClusterCallFailure.NotDelivered
            ? $"The call to {call.DisplayName} could not be delivered to a worker ({ex.GetType().Name}: {ex.Message}) after {tries}; it did not run."
            : idempotent.Contains(call.Plan.Method)
                ? $"The worker running {call.DisplayName} was lost ({ex.GetType().Name}: {ex.Message}) on each of {tries}; the call may have run."
                : $"The worker running {call.DisplayName} was lost ({ex.GetType().Name}: {ex.Message}); the call may or may not have run, so it was not retried " +
                  "(list the method in ClusterExecutorOptions.IdempotentMethods if running it twice is harmless).";
        return new ClusterCallException(failure, message, call.DisplayName, attempts, ex);
    }

    private void Finish(ExecutorWork work, ClusterCall call, KettleCallReply reply, int attempt)
    {
        if (reply.Status != KettleCallStatus.Rejected)
        {
            lock (gate)
            {
                bySilo[reply.Silo] = bySilo.GetValueOrDefault(reply.Silo) + 1;
            }
        }
        switch (reply.Status)
        {
            case KettleCallStatus.Completed:
                object? value;
                try
                {
                    value = call.ReadResult(reply.Result, work.ResultType);
                }
                catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidDataException or InvalidCastException)
                {
                    work.Complete(null, new InvalidOperationException($"The result of {call.DisplayName} could not be read as {call.Plan.ReturnType}: {ex.Message}", ex));
                    return;
                }
                work.Complete(value, null);
                return;
            case KettleCallStatus.Raised:
                work.Complete(null, reply.Error is { } error
                    ? ClusterCall.ToException(error)
                    : new RemoteException(null, $"{call.DisplayName} failed on silo {reply.Silo}.", null, null));
                return;
            default:
                work.Complete(null, new ClusterCallException(
                    ClusterCallFailure.Rejected,
                    $"Silo {reply.Silo} refused the call: {reply.Error?.Message}",
                    call.DisplayName,
                    attempt));
                return;
        }
    }

    private sealed record PendingCall(ExecutorWork Work, ClusterCall Call, string[] Args);
}
