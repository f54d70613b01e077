"""aws-personalized-ranking: the user-personalization sequence model, served as a ranker.

Amazon Personalize's Personalized-Ranking recipe is the hierarchical-RNN family of User-Personalization
applied to a caller-supplied list: GetPersonalizedRanking re-orders ``inputList`` by the user's scores.
The model, its hyperparameters and its export are those of ``aws-user-personalization``; what differs
is the recipe type, which tells the runtime to answer GetPersonalizedRanking (and refuse
GetRecommendations), and that it never explores cold items.
"""

from __future__ import annotations

from training.recipes.user_personalization import UserPersonalizationRecipe


class PersonalizedRankingRecipe(UserPersonalizationRecipe):
    name = "aws-personalized-ranking"
    recipe_type = "PERSONALIZED_RANKING"
    description = (
        "Ranks a given list of items for a user by the probability that the user interacts with each next, "
        "from a GRU over the user's interaction sequence (the aws-user-personalization model)."
    )
    feature_transformation = "personalized-ranking"
