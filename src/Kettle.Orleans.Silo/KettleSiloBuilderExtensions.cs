using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Serialization;

namespace Kettle.Orleans;

/// <summary>
/// Registers Kettle's worker grain on a silo, with the job assemblies it may run. asyncio counterpart: none (a
/// <c>ProcessPoolExecutor</c>'s workers run the parent's own code; a silo runs what it was deployed with).
/// </summary>
/// <remarks>Threading: call while building the silo host.</remarks>
public static class KettleSiloBuilderExtensions
{
    /// <summary>
    /// Lets clients' cluster executors run the public static methods of <paramref name="jobAssemblies"/> on this silo,
    /// at the versions loaded here, at most <see cref="KettleWorkerOptions.MaxConcurrentCalls"/> at once.
    /// </summary>
    public static ISiloBuilder AddKettleWorkers(this ISiloBuilder builder, params Assembly[] jobAssemblies) =>
        AddKettleWorkers(builder, o =>
        {
            foreach (var a in jobAssemblies)
            {
                o.JobAssemblies.Add(a);
            }
        });

    /// <summary>As <see cref="AddKettleWorkers(ISiloBuilder, Assembly[])"/>, with every option.</summary>
    public static ISiloBuilder AddKettleWorkers(this ISiloBuilder builder, Action<KettleWorkerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(configure);
        builder.Services.AddSingleton<KettleWorkerService>();
        // The grain and the messages, even when the host's own build did not discover these assemblies.
        builder.Services.AddSerializer(s => s
            .AddAssembly(typeof(KettleWorkerGrain).Assembly)
            .AddAssembly(typeof(IKettleWorkerGrain).Assembly));
        return builder;
    }
}
