#:project ../src/Kettle/Kettle.csproj
// Tutorial: "Defining and Calling a Coroutine". Calling a coroutine method runs nothing; Aio.Run runs it.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Kettle;

var clock = Stopwatch.StartNew();

ShowColdCoroutine();

Console.WriteLine(Aio.Run(Greet("Kandi")));
// Output: Hello, Kandi!
// (and on standard error, once the dropped coroutine is collected:
//  kettle: warning: coroutine 'Greet' was never awaited)

Console.WriteLine($"(took {clock.Elapsed.TotalSeconds:0.00} s)");

[MethodImpl(MethodImplOptions.NoInlining)]
static void ShowColdCoroutine()
{
    // This does NOT print "Hello": it makes a cold coroutine object.
    Coroutine<string> result = Greet("Kandi");
    Console.WriteLine(result);
    // Output: <coroutine object Greet>
}

static async Coroutine<string> Greet(string name) => $"Hello, {name}!";
