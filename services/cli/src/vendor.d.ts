// Types for the two lexicon baselines, which ship none.

declare module 'sentiment' {
  namespace Sentiment {
    interface AnalysisResult {
      /** Sum of the AFINN valences of the words found. */
      score: number;
      /** score / number of tokens. */
      comparative: number;
      tokens: string[];
      words: string[];
      positive: string[];
      negative: string[];
    }
  }
  class Sentiment {
    analyze(text: string): Sentiment.AnalysisResult;
  }
  export = Sentiment;
}

declare module 'vader-sentiment' {
  const vader: {
    SentimentIntensityAnalyzer: {
      polarity_scores(text: string): { neg: number; neu: number; pos: number; compound: number };
    };
  };
  export = vader;
}
