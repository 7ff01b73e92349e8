using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime;

namespace Kettle.Orleans;

/// <summary>
/// Runs calls from a cluster executor. One activation per slot key, placed by hash of its key over the silos (so a
/// client's slots spread over the cluster); one call at a time per activation (not reentrant, so a queued call that
/// is cancelled never runs); the user's method runs on a thread-pool thread, at most
/// <see cref="KettleWorkerOptions.MaxConcurrentCalls"/> at once per silo.
/// </summary>
/// <remarks>Threading: Orleans' turn-based scheduler; the call itself on the .NET thread pool.</remarks>
[HashBasedPlacement]
internal sealed class KettleWorkerGrain : Grain, IKettleWorkerGrain
{
    private readonly KettleWorkerService service;

    public KettleWorkerGrain(KettleWorkerService service)
    {
        this.service = service;
    }

    public async Task<KettleCallReply> Run(KettleCallRequest call, CancellationToken cancellationToken)
    {
        await service.Slots.WaitAsync(cancellationToken).ConfigureAwait(true);
        try
        {
            return await Task.Run(() => service.Dispatcher.Invoke(call, service.SiloName, cancellationToken), CancellationToken.None).ConfigureAwait(true);
        }
        finally
        {
            service.Slots.Release();
        }
    }
}

/// <summary>Per-silo state of the workers: the dispatcher and the concurrency bound. Threading: any thread.</summary>
internal sealed class KettleWorkerService : IDisposable
{
    public KettleWorkerService(IOptions<KettleWorkerOptions> options, ILocalSiloDetails silo)
    {
        var o = options.Value;
        if (o.MaxConcurrentCalls <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), o.MaxConcurrentCalls, "MaxConcurrentCalls must be greater than 0.");
        }
        Dispatcher = new KettleCallDispatcher(o.JobAssemblies);
        Slots = new SemaphoreSlim(o.MaxConcurrentCalls, o.MaxConcurrentCalls);
        SiloName = silo.Name;
    }

    public KettleCallDispatcher Dispatcher { get; }

    public SemaphoreSlim Slots { get; }

    public string SiloName { get; }

    public void Dispose() => Slots.Dispose();
}
