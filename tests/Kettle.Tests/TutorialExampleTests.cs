namespace Kettle.Tests;

/// <summary>The tutorial's gather-style example, run under virtual time.</summary>
public class TutorialExampleTests
{
    private static async Coroutine<string> Brew(string name, double seconds, List<string> finished)
    {
        await Aio.Sleep(seconds);
        finished.Add(name);
        return $"{name} done";
    }

    [Fact]
    public void ThreeTasks_Sleeping3And1And2_FinishBetaGammaAlphaInThreeSeconds()
    {
        static async Coroutine<(List<string> Finished, string[] Results, double Took)> Main()
        {
            var loop = Aio.GetRunningLoop();
            double start = loop.Time;
            var finished = new List<string>();
            var alpha = Aio.CreateTask(Brew("Alpha", 3, finished), "Alpha");
            var beta = Aio.CreateTask(Brew("Beta", 1, finished), "Beta");
            var gamma = Aio.CreateTask(Brew("Gamma", 2, finished), "Gamma");
            // Gather: results in argument order, whatever the completion order.
            string[] results = [await alpha, await beta, await gamma];
            return (finished, results, loop.Time - start);
        }

        var (finished, results, took) = Virtual.Run(Main());

        Assert.Equal(["Beta", "Gamma", "Alpha"], finished);
        Assert.Equal(["Alpha done", "Beta done", "Gamma done"], results);
        Assert.Equal(3.0, took);
    }
}
